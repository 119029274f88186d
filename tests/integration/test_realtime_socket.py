"""The real-time socket over a real WebSocket, on the local stack: ``devstack.ws_gateway``
and its stream poller, ``devstack.local_api``, the embedded DynamoDB and its stream."""
from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from chalicelib.api.auth import mint_admin_token
from tests.integration.realtime_support import KEY, TIMEOUT, Stack

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint, tmp_path_factory):
    running = Stack(dynamodb_endpoint, tmp_path_factory.mktemp("realtime")).start()
    yield running
    running.stop()


def test_group_call_joined_carries_the_join_answers_call_id(stack):
    room = stack.room()
    alice = stack.token(room, "alice")
    with stack.socket(room, alice) as socket:
        answer = stack.ok("POST", f"/rooms/{room}/join", token=alice)
        joined = socket.until("GROUP_CALL_JOINED")
    assert joined["data"]["callId"] == answer["callId"]
    assert joined["data"]["participantId"] == answer["participantId"]
    assert joined["seq"] == answer["version"] and joined["roomId"] == room


def test_the_sockets_join_action_answers_like_http_and_group_call_joined(stack):
    room = stack.room()
    bob = stack.token(room, "bob")
    with stack.socket(room, bob) as socket:
        reply = socket.reply("join")
        joined = socket.until("GROUP_CALL_JOINED")
        assert reply["type"] == "REPLY" and reply["data"]["status"] == "joined"
        assert joined["data"]["callId"] == reply["data"]["callId"]
        again = socket.reply("join")
        assert again["type"] == "ERROR" and again["code"] == "already_joined"
        assert socket.reply("raise_hand")["type"] == "REPLY"
        assert socket.until("HAND_RAISED")["data"]["participantId"] == joined["data"]["participantId"]
        assert socket.reply("lower_hand")["type"] == "REPLY"
        socket.until("HAND_LOWERED")
        assert socket.reply("leave")["type"] == "REPLY"
        socket.until("PARTICIPANT_LEFT")


def test_the_waiting_room_as_the_knocker_and_the_host_see_it(stack):
    room = stack.room(waitingRoom=True)
    host, knocker = stack.token(room, "host", "host"), stack.token(room, "kim")
    with stack.socket(room, host) as host_socket:
        stack.ok("POST", f"/rooms/{room}/join", token=host)
        host_socket.until("GROUP_CALL_JOINED")
        with stack.socket(room, knocker) as kim:
            knock = stack.ok("POST", f"/rooms/{room}/join", token=knocker)
            assert knock["status"] == "waiting"
            waiting = kim.until("WAITING")
            assert host_socket.until("WAITING")["data"]["participantId"] == knock["participantId"]
            stack.ok("POST", f"/rooms/{room}/participants/{knock['participantId']}/admit",
                     token=host)
            admitted = kim.until("GROUP_CALL_JOINED")
            assert host_socket.until("ADMITTED")["data"]["participantId"] == knock["participantId"]
    assert waiting["data"]["participantId"] == knock["participantId"]
    assert "callId" not in waiting["data"]
    assert admitted["data"] == {"participantId": knock["participantId"],
                                "callId": knock["callId"], "admitted": True}
    assert [m["type"] for m in kim.seen] == ["WAITING", "GROUP_CALL_JOINED"]
    assert all("callId" not in m["data"] for m in host_socket.seen
               if m["type"] != "GROUP_CALL_JOINED")


def test_a_reconnect_with_after_misses_nothing_and_repeats_nothing(stack):
    room = stack.room()
    carol = stack.token(room, "carol")
    stack.ok("POST", f"/rooms/{room}/join", token=carol)
    hands = ["/hand", "/hand"]
    seqs: list[int] = []
    with stack.socket(room, carol, after=0) as socket:
        for i in range(100):  # 100 hand changes while connected
            stack.ok("POST" if i % 2 == 0 else "DELETE", f"/rooms/{room}{hands[i % 2]}", token=carol)
            seqs.append(socket.next()["seq"])  # the join first, then each change
    last = seqs[-1]
    for i in range(100):  # 100 more while away
        stack.ok("POST" if i % 2 == 0 else "DELETE", f"/rooms/{room}/hand", token=carol)
    with stack.socket(room, carol, after=last) as socket:
        # and live ones arriving while the catch-up runs
        for i in range(10):
            stack.ok("POST" if i % 2 == 0 else "DELETE", f"/rooms/{room}/hand", token=carol)
        while len(seqs) < 211:
            seqs.append(socket.next()["seq"])
    events = stack.ok("GET", f"/rooms/{room}/events?after=0&limit=1000")["events"]
    assert seqs == [e["seq"] for e in events if e["seq"] > 2]  # created, opened: not sent
    assert seqs == sorted(set(seqs))


def test_an_audience_socket_never_sees_what_it_may_not(stack):
    room = stack.room(stageMode=True, waitingRoom=True)
    host, fan = stack.token(room, "host", "host"), stack.token(room, "fan", "audience")
    stack.ok("POST", f"/rooms/{room}/join", token=host)
    with stack.socket(room, fan) as audience:
        mine = audience.reply("join")["data"]  # it knocks too, and is let in
        stack.ok("POST", f"/rooms/{room}/participants/{mine['participantId']}/admit", token=host)
        audience.until("GROUP_CALL_JOINED")
        # a knock, denied; a speaker admitted, who raises a hand, is muted and kicked
        knocker, speaker = stack.token(room, "nosy"), stack.token(room, "sam")
        knock = stack.ok("POST", f"/rooms/{room}/join", token=knocker)
        stack.ok("POST", f"/rooms/{room}/participants/{knock['participantId']}/deny", token=host)
        sam = stack.ok("POST", f"/rooms/{room}/join", token=speaker)
        stack.ok("POST", f"/rooms/{room}/participants/{sam['participantId']}/admit", token=host)
        stack.ok("POST", f"/rooms/{room}/hand", token=speaker)
        stack.ok("POST", f"/rooms/{room}/participants/{sam['participantId']}/kick", token=host)
        # scopes are decided at delivery: wait, so the close is not read in the same batch
        audience.until("PARTICIPANT_LEFT", participantId=sam["participantId"])
        stack.ok("POST", f"/rooms/{room}/close", {"reason": "done"})
        audience.until("ROOM_CLOSED")
    text = repr(audience.seen)
    for secret in (knock["callId"], sam["callId"], "nosy", host, knocker, speaker, fan):
        assert secret not in text
    others = [m for m in audience.seen if m["type"] != "REPLY"
              and m["data"].get("participantId") != mine["participantId"]]
    types = [m["type"] for m in others]
    assert "WAITING" not in types and "DENIED" not in types and "KICKED" not in types
    assert "GROUP_CALL_JOINED" not in types
    assert {"ADMITTED", "HAND_RAISED", "PARTICIPANT_LEFT", "ROOM_CLOSED"} <= set(types)
    assert all(set(m) == {"type", "seq", "roomId", "time", "data"}
               for m in audience.seen if m["type"] != "REPLY")


@pytest.mark.parametrize("case", ["forged", "expired", "other_room", "banned"])
def test_refused_tokens_close_with_4401_or_4403(stack, case):
    room, other = stack.room(), stack.room()
    token = {"forged": "a.b.c", "expired": mint_admin_token(KEY, "rt-secret-" + "y" * 24, -60),
             "other_room": stack.token(other, "dan"), "banned": stack.token(room, "eve")}[case]
    if case == "banned":
        joined = stack.ok("POST", f"/rooms/{room}/join", token=token)
        stack.ok("POST", f"/rooms/{room}/participants/{joined['participantId']}/kick")
    with connect(f"{stack.ws_url}?roomId={room}&token={token}", open_timeout=TIMEOUT) as ws:
        with pytest.raises(Exception):
            ws.recv(timeout=TIMEOUT)
        code, reason = ws.close_code, ws.close_reason
    expected = {"forged": (4401, "unauthorized"), "expired": (4401, "token_expired"),
                "other_room": (4403, "wrong_room"), "banned": (4403, "banned")}[case]
    assert (code, reason.split(":")[0]) == expected, (code, reason)
    assert not isinstance(code, InvalidStatus)
