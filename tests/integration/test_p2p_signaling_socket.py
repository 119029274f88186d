"""Signaling between the peers of a P2P room over the real WebSocket, on the local stack
(``devstack.ws_gateway``: the same ``$default`` handler and ``post_to_connection`` path
as deployed): a signal reaches its target, join answers carry ICE servers, and what is
refused is refused with a stable code and the command's requestId."""
from __future__ import annotations

import pytest

from tests.integration.realtime_support import Stack

pytestmark = pytest.mark.timeout(300)
TURN_SECRET = "p2p-test-turn-secret"
SEND = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" \
       "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
RECEIVE = SEND.replace("a=sendrecv\r\n", "").replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n")


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint, tmp_path_factory):
    running = Stack(dynamodb_endpoint, tmp_path_factory.mktemp("p2p"), env={
        "DROPON_STUN_URLS": "stun:127.0.0.1:3478", "DROPON_TURN_URLS": "turn:127.0.0.1:3478",
        "DROPON_TURN_SECRET": TURN_SECRET}).start()
    yield running
    running.stop()


def p2p_room(stack, **policy) -> str:
    return stack.room(mediaMode="P2P", **policy)


def joined(socket) -> dict:
    reply = socket.reply("join")
    assert reply["type"] == "REPLY", reply
    return reply["data"]


def test_an_offer_reaches_the_peers_socket_and_join_answers_carry_ice_servers(stack):
    room = p2p_room(stack)
    with stack.socket(room, stack.token(room, "ada")) as ada, \
            stack.socket(room, stack.token(room, "bo")) as bo:
        a, b = joined(ada), joined(bo)
        offer = {"type": "offer", "sdp": SEND}
        reply = ada.reply("signal", to=b["participantId"], data=offer)
        assert reply["type"] == "REPLY" and reply["data"] == {"to": b["participantId"],
                                                              "delivered": 1}
        signal = bo.until("SIGNAL")
        assert signal == {"type": "SIGNAL", "roomId": room, "from": a["participantId"],
                          "data": offer}
        answer = {"type": "answer", "sdp": SEND}
        assert bo.reply("signal", to=a["participantId"], data=answer)["type"] == "REPLY"
        assert ada.until("SIGNAL")["data"] == answer
    stun, turn = a["iceServers"]
    assert stun == {"urls": ["stun:127.0.0.1:3478"]}
    assert turn["urls"] == ["turn:127.0.0.1:3478"]
    assert turn["username"].endswith(":" + a["participantId"])
    assert TURN_SECRET not in str(a)
    over_http = stack.ok("POST", f"/rooms/{room}/join", token=stack.token(room, "cy"))
    assert over_http["iceServers"][1]["username"].endswith(":" + over_http["participantId"])
    assert [s["type"] for s in ada.seen].count("SIGNAL") == 1  # none echoed to the sender


def test_a_kicked_peers_later_signals_are_refused(stack):
    room = p2p_room(stack)
    host = stack.token(room, "host", "host")
    with stack.socket(room, host) as ada, stack.socket(room, stack.token(room, "kim")) as kim:
        a, k = joined(ada), joined(kim)
        candidate = {"type": "candidate", "candidate": {"candidate": "", "sdpMid": "0"}}
        assert kim.reply("signal", to=a["participantId"], data=candidate)["type"] == "REPLY"
        stack.ok("POST", f"/rooms/{room}/participants/{k['participantId']}/kick", token=host)
        kim.until("KICKED")
        refused = kim.reply("signal", to=a["participantId"], data=candidate)
        assert refused["type"] == "ERROR" and refused["code"] == "banned"
        assert refused["requestId"]
        back = ada.reply("signal", to=k["participantId"], data={"type": "bye"})
        assert back["type"] == "ERROR" and back["code"] == "peer_not_joined"
    assert [m for m in ada.seen if m["type"] == "SIGNAL"] == [
        {"type": "SIGNAL", "roomId": room, "from": k["participantId"], "data": candidate}]


def test_an_audience_member_of_a_stage_room_may_receive_but_not_offer_to_send(stack):
    room = p2p_room(stack, stageMode=True)
    with stack.socket(room, stack.token(room, "host", "host")) as ada, \
            stack.socket(room, stack.token(room, "sam", "audience")) as sam:
        a, s = joined(ada), joined(sam)
        refused = sam.reply("signal", to=a["participantId"], data={"type": "offer", "sdp": SEND})
        assert refused["type"] == "ERROR" and refused["code"] == "cannot_send_media"
        allowed = sam.reply("signal", to=a["participantId"],
                            data={"type": "offer", "sdp": RECEIVE})
        assert allowed["type"] == "REPLY"
        from_host = ada.reply("signal", to=s["participantId"], data={"type": "offer", "sdp": SEND})
        assert from_host["type"] == "REPLY" and sam.until("SIGNAL")["data"]["sdp"] == SEND


def test_malformed_signals_and_other_rooms_get_stable_codes(stack):
    room, sfu = p2p_room(stack), stack.room()
    with stack.socket(room, stack.token(room, "ada")) as ada, \
            stack.socket(sfu, stack.token(sfu, "cy")) as cy:
        a = joined(ada)
        cases = [({}, "missing_field"), ({"to": 7, "data": {"type": "bye"}}, "invalid_field"),
                 ({"to": "x", "data": "offer"}, "invalid_field"),
                 ({"to": "x", "data": {"type": "hello"}}, "invalid_field"),
                 ({"to": "x", "data": {"type": "offer"}}, "invalid_field"),
                 ({"to": "x", "data": {"type": "candidate"}}, "invalid_field"),
                 ({"to": "x", "data": {"type": "offer", "sdp": "v" * 20000}}, "signal_too_large"),
                 ({"to": "p-nobody", "data": {"type": "bye"}}, "participant_not_found")]
        for body, code in cases:
            answer = ada.reply("signal", **body)
            assert (answer["type"], answer["code"]) == ("ERROR", code), (body, answer)
        joined(cy)
        other = cy.reply("signal", to=a["participantId"], data={"type": "bye"})
        assert other["code"] == "not_p2p"
