"""Node re-offers keep the payload types the session negotiated (media_node.signaling.payload_types)."""
from __future__ import annotations

from media_node.signaling.payload_types import align_payload_types

# what a Chromium subscriber's offer negotiated: its own numbers
NEGOTIATED = "\r\n".join([
    "v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "a=mid:0",
    "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:0 PCMU/8000",
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103", "a=mid:1",
    "a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack pli",
    "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
    "a=rtpmap:102 H264/90000",
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    "a=rtpmap:103 rtx/90000", "a=fmtp:103 apt=102",
]) + "\r\n"

# what aiortc's createOffer numbers from its own table, plus a new video m-line
OFFER = "\r\n".join([
    "v=0", "o=- 2 2 IN IP4 0.0.0.0", "s=-", "t=0 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 96 0", "a=mid:0",
    "a=rtpmap:96 opus/48000/2", "a=rtpmap:0 PCMU/8000",
    "m=video 9 UDP/TLS/RTP/SAVPF 97 98 101 102", "a=mid:1",
    "a=rtpmap:97 VP8/90000", "a=rtcp-fb:97 nack pli",
    "a=rtpmap:98 rtx/90000", "a=fmtp:98 apt=97",
    "a=rtpmap:101 H264/90000",
    "a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    "a=rtpmap:102 rtx/90000", "a=fmtp:102 apt=101",
    "m=video 9 UDP/TLS/RTP/SAVPF 97 98 99", "a=mid:2",
    "a=rtpmap:97 VP8/90000", "a=rtpmap:98 rtx/90000", "a=fmtp:98 apt=97",
    "a=rtpmap:99 H264/90000",
    "a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:3",
]) + "\r\n"


def _section(sdp: str, mid: str) -> list[str]:
    sections = sdp.split("m=")[1:]
    return next(("m=" + s).splitlines() for s in sections if f"a=mid:{mid}\r\n" in s + "\r\n")


def test_existing_m_lines_keep_the_numbers_they_were_negotiated_with():
    aligned = align_payload_types(OFFER, NEGOTIATED)
    audio, video = _section(aligned, "0"), _section(aligned, "1")
    assert audio[0] == "m=audio 9 UDP/TLS/RTP/SAVPF 111 0"
    assert "a=rtpmap:111 opus/48000/2" in audio and "a=rtpmap:0 PCMU/8000" in audio
    assert video[0] == "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103"
    assert {"a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack pli", "a=rtpmap:97 rtx/90000",
            "a=fmtp:97 apt=96", "a=rtpmap:103 rtx/90000", "a=fmtp:103 apt=102"} <= set(video)


def test_a_new_m_line_uses_the_session_numbers_and_free_ones_for_new_codecs():
    aligned = align_payload_types(OFFER, NEGOTIATED)
    video = _section(aligned, "2")
    pts = [int(p) for p in video[0].split(" ")[3:]]
    assert pts[:2] == [96, 97]  # VP8 and its RTX as elsewhere in the BUNDLE group
    assert pts[2] not in (0, 96, 97, 102, 103, 111) and 96 <= pts[2] < 128
    assert f"a=rtpmap:{pts[2]} H264/90000" in video
    assert _section(aligned, "3") == _section(OFFER, "3")


def test_an_offer_already_in_the_negotiated_numbers_is_unchanged():
    assert align_payload_types(NEGOTIATED, NEGOTIATED) == NEGOTIATED
