"""Header extension ids keep their meaning across node-driven re-offers (no I/O)."""
from media_node.signaling.extmap import align_extmap, extmap_ids

NEGOTIATED = "\r\n".join([
    "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:1",
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid", ""])

# what aiortc's createOffer writes: its own numbering, and a URI the session never saw
AIORTC_OFFER = "\r\n".join([
    "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:1",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:2/sendrecv http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=extmap:3 urn:example:new", ""])


def test_known_uris_keep_their_negotiated_ids_and_new_ones_get_free_ids():
    aligned = align_extmap(AIORTC_OFFER, NEGOTIATED)
    assert "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid" in aligned
    assert "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level" in aligned
    assert "a=extmap:2/sendrecv http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time" \
        in aligned
    assert "a=extmap:3 urn:example:new" in aligned  # 3 was free
    ids = [line for line in aligned.splitlines() if line.startswith("a=extmap:")]
    by_id = {}
    for line in ids:  # one URI per id across the whole BUNDLE
        number, uri = line[9:].split(" ")[0].split("/")[0], line.split(" ")[1]
        assert by_id.setdefault(number, uri) == uri
    assert aligned.count("m=") == 2 and "a=mid:1" in aligned


def test_without_history_each_uri_gets_one_id_for_the_whole_bundle():
    # aiortc numbers per kind (2 is audio-level in audio, abs-send-time in video)
    ids = extmap_ids(align_extmap(AIORTC_OFFER, ""))
    assert len(set(ids.values())) == len(ids) == 4
    assert ids["urn:ietf:params:rtp-hdrext:sdes:mid"] == 1
