"""Pure logic of the media node: tokens, SDP checks, keyframes, candidates, events, rooms."""
from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from media_node.config import NodeConfig
from media_node.control.client import StandaloneControlPlane, mint_node_token
from media_node.control.events import event_payload, muted_kinds
from media_node.errors import Conflict, Forbidden, Unauthorized
from media_node.ice.loopback import filter_candidates
from media_node.node import MediaNode
from media_node.sfu.keyframes import h264_is_keyframe, vp8_is_keyframe
from media_node.sfu.room import Room
from media_node.signaling.sdp import sends_media
from media_node.signaling.tokens import MediaClaims, verify_media_token
from media_node_dev.tokens import mint_media_token

SECRET = "unit-test-secret-0123456789abcdefghij"


def test_media_token_round_trip_and_refusals():
    token = mint_media_token(SECRET, "n1", "room-1", "p1", "speaker", identity="ann")
    claims = verify_media_token(token, SECRET, "n1")
    assert (claims.room, claims.participant_id, claims.identity, claims.role) == (
        "room-1", "p1", "ann", "speaker")
    with pytest.raises(Unauthorized):
        verify_media_token(token, SECRET, "other-node")  # aud is media:<nodeId>
    with pytest.raises(Unauthorized):
        verify_media_token(token, "another-secret-0123456789abcdefghij", "n1")
    with pytest.raises(Unauthorized):
        verify_media_token(mint_media_token(SECRET, "n1", "r", "p", "host", ttl=-5), SECRET, "n1")
    with pytest.raises(Unauthorized):
        verify_media_token(mint_media_token(SECRET, "n1", "r", "p", "admin"), SECRET, "n1")
    forged = jwt.encode({"iss": "someone", "aud": "media:n1", "sub": "p", "exp": time.time() + 60,
                         "room": "r", "identity": "p", "role": "host", "callId": "c"},
                        SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        verify_media_token(forged, SECRET, "n1")


def test_media_token_audio_only_claim_defaults_to_false_and_is_checked():
    old = verify_media_token(mint_media_token(SECRET, "n1", "r", "p", "speaker"), SECRET, "n1")
    assert (old.audio_only, old.seq) == (False, 0)  # minted before the claims existed
    new = verify_media_token(mint_media_token(SECRET, "n1", "r", "p", "speaker",
                                              audio_only=True, seq=7), SECRET, "n1")
    assert (new.audio_only, new.seq) == (True, 7)
    for bad in ({"audio_only": "false"}, {"audio_only": 1}, {"seq": -1}, {"seq": "7"},
                {"seq": True}):
        with pytest.raises(Unauthorized):
            verify_media_token(mint_media_token(SECRET, "n1", "r", "p", "speaker", **bad),
                               SECRET, "n1")


def test_node_token_expires_within_five_minutes():
    claims = jwt.decode(mint_node_token(SECRET, "n1"), SECRET, algorithms=["HS256"])
    assert claims["iss"] == "node:n1" and claims["exp"] - time.time() <= 300


OFFER = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"


def test_sends_media_reads_each_section_direction():
    recv = OFFER + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\nm=application 9 x\r\n"
    assert not sends_media(recv)
    assert sends_media(OFFER + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n")
    assert sends_media(OFFER + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n")  # default is sendrecv
    assert not sends_media(OFFER + "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n")
    assert sends_media(OFFER + "a=sendonly\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n")


def test_keyframe_detection():
    assert vp8_is_keyframe(b"\x10\x02\x00") and not vp8_is_keyframe(b"\x11\x02\x00")
    assert h264_is_keyframe(b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x65\x88")
    assert not h264_is_keyframe(b"\x00\x00\x00\x01\x41\x9a")


def test_only_loopback_candidates_survive():
    sdp = ("a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n"
           "a=candidate:2 1 udp 2130706431 192.168.1.20 5000 typ host\r\n"
           "a=candidate:3 1 udp 2130706431 3f1c.local 5000 typ host\r\n"
           "a=mid:0\r\n")
    assert filter_candidates(sdp) == ("a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"
                                      "\r\na=mid:0\r\n")


def test_event_shapes_and_mute_kinds():
    assert event_payload({"type": "ParticipantMuted", "data": {"participantId": "p"}, "seq": 3}) \
        == ("ParticipantMuted", {"participantId": "p", "seq": 3})
    assert muted_kinds({"participantId": "p"}) == {"audio", "video"}
    assert muted_kinds({"audio": True, "video": False}) == {"audio"}


def _claims(pid: str, role: str = "audience") -> MediaClaims:
    return MediaClaims("r", pid, pid, role, "c", int(time.time()) + 60)


def test_room_admission_refuses_kicked_full_and_closed():
    room = Room("r")
    room.policy.max_participants = 1
    room.check_admit(_claims("a"))
    room.sessions["a"] = object()
    room.check_admit(_claims("a"))  # a reconnect replaces, it does not add
    with pytest.raises(Forbidden, match="room holds 1"):
        room.check_admit(_claims("b"))
    room.kicked.add("a")
    with pytest.raises(Forbidden) as kicked:
        room.check_admit(_claims("a"))
    assert kicked.value.code == "kicked"
    room.closed = True
    with pytest.raises(Conflict):
        room.check_admit(_claims("c"))


def test_config_from_environment():
    with pytest.raises(ValueError):
        NodeConfig.from_env({})
    config = NodeConfig.from_env({"DROPON_NODE_SECRET": SECRET, "DROPON_NODE_PORT": "8200"})
    assert config.standalone and config.ice_loopback_only and config.forwarding == "direct"
    assert config.public_url == "http://127.0.0.1:8200" and config.max_participants == 64
    assert SECRET not in repr(config) and config.consent_failures == 12
    assert NodeConfig.from_env({"DROPON_NODE_SECRET": SECRET,
                                "DROPON_ICE_CONSENT_FAILURES": "6"}).consent_failures == 6
    with pytest.raises(ValueError):
        NodeConfig.from_env({"DROPON_NODE_SECRET": SECRET, "DROPON_FORWARDING": "transcode"})


class _Publisher:
    """A session as the room sees it when the policy changes."""

    def __init__(self) -> None:
        self.unpublished: list[str | None] = []

    def unpublish(self, kind: str | None = None) -> None:
        self.unpublished.append(kind)


def test_an_audio_only_room_refuses_video_and_unpublishes_it_when_it_becomes_so():
    room = Room("r")
    room.sessions["a"] = publisher = _Publisher()
    assert room.allows("video") and room.allows("audio")
    room.set_audio_only(True, seq=5)  # a token of room version 5
    assert not room.allows("video") and room.allows("audio")
    assert publisher.unpublished == ["video"]
    room.apply_policy({"maxParticipants": 9, "audioOnly": False}, seq=4)  # replayed: older
    assert not room.allows("video") and room.policy.max_participants == 9
    room.apply_policy({"stageMode": True}, seq=7)  # a policy without the field
    assert not room.allows("video")
    room.apply_policy({"audioOnly": False}, seq=6)
    assert room.allows("video") and publisher.unpublished == ["video"]
    room.set_audio_only(True, seq=6)  # a token no newer than the feed's change
    assert room.allows("video")


def test_the_first_token_sets_audio_only_and_a_policy_change_on_the_feed_updates_it():
    node = MediaNode(NodeConfig(node_id="n1", node_secret=SECRET), StandaloneControlPlane())
    room = node.room("r")
    old_token = _claims("a", "speaker")  # no audioOnly claim: false, as of version 0
    room.set_audio_only(old_token.audio_only, old_token.seq)
    assert room.allows("video")
    change = {"seq": 3, "type": "PolicyChanged", "time": "2026-03-01T09:00:00Z",
              "actor": {"kind": "api_key", "id": "k"},
              "data": {"changes": {"audioOnly": True},
                       "policy": {"maxParticipants": 64, "audioOnly": True}}}
    asyncio.run(node.apply_room_event("r", change))
    assert not room.allows("video") and room.last_seq == 3
