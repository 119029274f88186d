"""Signaling in P2P rooms: the SDP rule and the relay between sockets, on the in-memory
event store and connection store (no I/O): who may signal whom, and what an audience
member may offer."""
import json
import time

import pytest

from chalicelib.application import Actor, RoomsApplication
from chalicelib.application.signaling import SignalingService
from chalicelib.application.sockets import SocketService
from chalicelib.domain.errors import DomainError
from chalicelib.domain.signaling import sending_kinds
from chalicelib.persistence.connections import InMemoryConnectionStore

API = Actor("api_key", "key")
SEND_BOTH = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" \
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n" \
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n"
RECEIVE_ONLY = SEND_BOTH.replace("a=sendrecv", "a=recvonly")


def test_an_m_line_sends_by_its_own_direction_else_the_sessions_else_sendrecv():
    assert sending_kinds(SEND_BOTH) == {"audio", "video"}
    assert sending_kinds(RECEIVE_ONLY) == set()
    no_direction = SEND_BOTH.replace("a=sendrecv\r\n", "")
    assert sending_kinds(no_direction) == {"audio", "video"}  # RFC 4566's default
    session_recvonly = no_direction.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n")
    assert sending_kinds(session_recvonly) == set()
    audio_sends = RECEIVE_ONLY.replace("a=recvonly", "a=sendonly", 1)
    assert sending_kinds(audio_sends) == {"audio"}


def test_a_rejected_m_line_sends_nothing_unless_it_is_bundle_only():
    rejected = SEND_BOTH.replace("m=video 9", "m=video 0")
    assert sending_kinds(rejected) == {"audio"}
    bundled = rejected.replace("a=sendrecv\r\n", "a=bundle-only\r\na=sendrecv\r\n")
    assert sending_kinds(bundled) == {"audio", "video"}
    assert sending_kinds("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n") == set()


class Room:
    """A P2P room on the in-memory stores, its members and their sockets."""

    def __init__(self, **policy):
        self.rooms = RoomsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.connections = InMemoryConnectionStore()
        self.sockets = SocketService(self.rooms, self.connections)
        self.signaling = SignalingService(self.rooms, self.connections)
        self.id = self.rooms.create_room(API, name="mesh", persistent=True,
                                         policy={"mediaMode": "P2P", **policy})["id"]
        self.inbox: dict[str, list[dict]] = {}
        self.gone: set[str] = set()

    def join(self, identity, role="speaker") -> str:
        self.sockets.connect(Actor("participant", identity), self.id, f"ws-{identity}",
                             after=None, role=role, replace=False,
                             expires=int(time.time()) + 600)
        return self.rooms.join(Actor("participant", identity), self.id, identity=identity,
                               role=role)["participantId"]

    def post(self, connection_id, text):
        if connection_id in self.gone:
            return False
        self.inbox.setdefault(connection_id, []).append(json.loads(text))
        return True

    def signal(self, identity, to, data):
        reader = self.connections.get(f"ws-{identity}")
        return self.signaling.signal(reader, to, data, self.post, json.dumps)

    def refused(self, identity, to, data) -> str:
        with pytest.raises(DomainError) as refusal:
            self.signal(identity, to, data)
        return refusal.value.code


def test_a_signal_reaches_the_targets_socket_as_signal_from_the_sender():
    room = Room()
    ada, bo = room.join("ada"), room.join("bo")
    offer = {"type": "offer", "sdp": SEND_BOTH}
    assert room.signal("ada", bo, offer) == {"to": bo, "delivered": 1}
    assert room.inbox == {"ws-bo": [{"type": "SIGNAL", "roomId": room.id, "from": ada,
                                     "data": offer}]}
    events = room.rooms.room_events(room.id, after=0, limit=100)
    assert not [e for e in events if "Signal" in e["type"]]  # nothing stored


def test_only_joined_peers_of_a_p2p_room_signal_each_other():
    room = Room()
    ada, bo = room.join("ada"), room.join("bo")
    candidate = {"type": "candidate", "candidate": None}
    assert room.refused("ada", ada, candidate) == "invalid_argument"
    assert room.refused("ada", "p-unknown", candidate) == "participant_not_found"
    room.rooms.leave_own_session(Actor("participant", "bo"), room.id)
    assert room.refused("ada", bo, candidate) == "peer_not_joined"
    assert room.refused("bo", ada, candidate) == "not_joined"
    sfu = Room()
    sfu.rooms.update_policy(API, sfu.id, {"mediaMode": "SFU"})
    cy, di = sfu.join("cy"), sfu.join("di")
    assert sfu.refused("cy", di, candidate) == "not_p2p"


def test_a_kicked_peer_can_neither_signal_nor_be_signalled():
    room = Room()
    ada, bo = room.join("ada", "host"), room.join("bo")
    room.rooms.kick(API, room.id, bo)
    answer = {"type": "answer", "sdp": SEND_BOTH}
    assert room.refused("bo", ada, answer) == "banned"
    assert room.refused("ada", bo, {"type": "bye"}) == "peer_not_joined"


def test_an_audience_member_receives_but_never_offers_or_answers_to_send():
    room = Room(stageMode=True)
    host, sam = room.join("ada", "host"), room.join("sam", "audience")
    assert room.refused("sam", host, {"type": "offer", "sdp": SEND_BOTH}) == "cannot_send_media"
    assert room.refused("sam", host, {"type": "answer", "sdp": SEND_BOTH}) == "cannot_send_media"
    assert room.signal("sam", host, {"type": "offer", "sdp": RECEIVE_ONLY})["delivered"] == 1
    assert room.signal("ada", sam, {"type": "offer", "sdp": SEND_BOTH})["delivered"] == 1
    room.rooms.promote(API, room.id, sam)
    assert room.signal("sam", host, {"type": "offer", "sdp": SEND_BOTH})["delivered"] == 1


def test_an_audio_only_room_refuses_descriptions_that_send_video():
    room = Room(audioOnly=True)
    ada, bo = room.join("ada"), room.join("bo")
    with pytest.raises(DomainError) as refusal:
        room.signal("ada", bo, {"type": "offer", "sdp": SEND_BOTH})
    assert refusal.value.code == "cannot_send_media" and refusal.value.ids["kind"] == "video"
    audio_only = SEND_BOTH.replace("a=sendrecv", "a=recvonly").replace("a=recvonly", "a=sendrecv", 1)
    assert room.signal("ada", bo, {"type": "offer", "sdp": audio_only})["delivered"] == 1


def test_a_signal_to_a_peer_without_a_live_socket_is_refused_and_its_socket_forgotten():
    room = Room()
    ada, bo = room.join("ada"), room.join("bo")
    room.gone.add("ws-bo")
    assert room.refused("ada", bo, {"type": "bye"}) == "peer_not_connected"
    assert room.connections.get("ws-bo") is None
