"""Room events as socket messages, per reader, on plain views and events (no I/O); and
the delivery cursor on the in-memory stores."""
import json
from datetime import datetime, timezone

from chalicelib.application import Actor, RoomsApplication
from chalicelib.application.realtime import TYPES, ReaderFeed
from chalicelib.application.sockets import SocketService
from chalicelib.domain import events as domain_events
from chalicelib.persistence.connections import InMemoryConnectionStore

T = "2026-01-01T00:00:00Z"
ADA = {"kind": "participant", "id": "ada"}


def record(pid, identity, role="speaker", state="joined", call="c-" + "x"):
    return {"id": pid, "identity": identity, "role": role, "state": state, "callId": call,
            "joinedAt": T if state == "joined" else None}


def event(seq, kind, **data):
    return {"seq": seq, "type": kind, "time": T, "actor": ADA, "data": data}


VIEW = {"id": "room-1", "participants": [record("p-ada", "ada", "host", call="c-ada"),
                                         record("p-sam", "sam", "audience", call="c-sam")]}
JOINS = [event(1, "ParticipantJoined", participantId="p-ada", identity="ada", role="host",
               callId="c-ada"),
         event(2, "ParticipantJoined", participantId="p-sam", identity="sam",
               role="audience", callId="c-sam")]


def test_every_event_type_but_the_listed_ones_has_a_socket_type():
    names = {n for n, v in vars(domain_events).items()
             if isinstance(v, type) and issubclass(v, domain_events.RoomEvent | domain_events.RoomCreated)
             and v not in (domain_events.RoomEvent,)}
    assert names - set(TYPES) == {"RoomCreated", "RoomOpened", "BanLifted",
                                  "RecordingWritingStarted", "RecordingUploadStarted",
                                  "RecordingUploaded", "RecordingRetryRequested",
                                  "RecordingLeftoversListed"}


def test_members_hear_that_the_call_is_recorded_and_hosts_where():
    started = event(3, "RecordingStarted", recordingId="r1", output="per-track",
                    destinationId="d1")
    host = ReaderFeed(Actor("participant", "ada"), VIEW).messages([started])
    member = ReaderFeed(Actor("participant", "sam"), VIEW).messages([started])
    assert [m["type"] for m in host + member] == ["RECORDING_STARTED"] * 2
    assert host[0]["data"]["destinationId"] == "d1"
    assert member[0]["data"] == {"recordingId": "r1", "output": "per-track"}


def test_the_joiner_gets_group_call_joined_and_the_others_no_call_id():
    ada = ReaderFeed(Actor("participant", "ada"), VIEW).messages(JOINS)
    sam = ReaderFeed(Actor("participant", "sam"), VIEW).messages(JOINS)
    admin = ReaderFeed(Actor("api_key", "key"), VIEW).messages(JOINS)
    assert [m["type"] for m in ada] == ["GROUP_CALL_JOINED", "PARTICIPANT_JOINED"]
    assert ada[0]["data"]["callId"] == "c-ada" and "callId" not in ada[1]["data"]
    assert [m["type"] for m in sam] == ["PARTICIPANT_JOINED", "GROUP_CALL_JOINED"]
    assert sam[1]["data"] == {"participantId": "p-sam", "identity": "sam", "role": "audience",
                              "callId": "c-sam"}
    assert all("callId" not in m["data"] for m in admin)
    assert all(set(m) == {"type", "seq", "roomId", "time", "data"} for m in ada + sam + admin)


def test_a_knock_is_seen_by_the_knocker_and_hosts_and_admission_joins_the_call():
    view = {**VIEW, "participants": VIEW["participants"] + [
        record("p-kim", "kim", state="joined", call="c-kim")]}
    knock = [event(3, "ParticipantKnocked", participantId="p-kim", identity="kim",
                   role="speaker", callId="c-kim"),
             event(4, "ParticipantAdmitted", participantId="p-kim")]
    kim = ReaderFeed(Actor("participant", "kim"), view).messages(knock)
    host = ReaderFeed(Actor("participant", "ada"), view).messages(knock)
    member = ReaderFeed(Actor("participant", "sam"), view).messages(knock)
    assert [m["type"] for m in kim] == ["WAITING", "GROUP_CALL_JOINED"]
    assert kim[1]["data"] == {"participantId": "p-kim", "callId": "c-kim", "admitted": True}
    assert "callId" not in kim[0]["data"]
    assert [m["type"] for m in host] == ["WAITING", "ADMITTED"]
    assert [m["type"] for m in member] == ["ADMITTED"]
    assert member[0]["data"] == {"participantId": "p-kim", "identity": "kim", "role": "speaker"}


def test_roles_are_named_and_a_kick_is_a_leave_for_members():
    feed = [event(3, "ParticipantPromoted", participantId="p-sam"),
            event(4, "ParticipantKicked", participantId="p-sam", identity="sam")]
    host = ReaderFeed(Actor("participant", "ada"), VIEW).messages(feed)
    other = {**VIEW, "participants": VIEW["participants"] + [record("p-bo", "bo")]}
    bo = ReaderFeed(Actor("participant", "bo"), other).messages(feed)
    assert [(m["type"], m["data"].get("role")) for m in host] == [
        ("ROLE_CHANGED", "speaker"), ("KICKED", None)]
    assert [m["type"] for m in bo] == ["ROLE_CHANGED", "PARTICIPANT_LEFT"]
    assert bo[1]["data"] == {"participantId": "p-sam"}


def test_a_socket_gets_every_event_after_its_cursor_once_in_order():
    rooms = RoomsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    now = datetime.now(timezone.utc)
    room = rooms.create_room(Actor("api_key", "k"), name="r", persistent=True, now=now)
    service = SocketService(rooms, InMemoryConnectionStore())
    service.connect(Actor("participant", "ada"), room["id"], "c1", after=0, role="speaker",
                    replace=False, expires=2**31)
    rooms.join(Actor("participant", "ada"), room["id"], identity="ada", role="speaker", now=now)
    got: list[dict] = []

    def post(connection_id, text):
        got.append(json.loads(text))
        return True

    for _ in range(3):  # a stream record, a resume, a retry: the same events once
        service.deliver(room["id"], post, json.dumps)
    rooms.raise_hand(Actor("participant", "ada"), room["id"], now)
    service.deliver(room["id"], post, json.dumps, only="c1")
    assert [m["type"] for m in got] == ["GROUP_CALL_JOINED", "HAND_RAISED"]
    assert [m["seq"] for m in got] == sorted({m["seq"] for m in got})


def test_a_socket_whose_token_expired_gets_nothing_more():
    rooms = RoomsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    room = rooms.create_room(Actor("api_key", "k"), name="r", persistent=True)
    store = InMemoryConnectionStore()
    service = SocketService(rooms, store)
    service.connect(Actor("api_key", "k"), room["id"], "old", after=0, role=None,
                    replace=False, expires=1)
    rooms.join(Actor("participant", "ada"), room["id"], identity="ada", role="speaker")
    assert service.deliver(room["id"], lambda c, t: True, json.dumps) == 0
    assert store.get("old") is None


def test_a_room_wide_delivery_writes_one_room_cursor_and_a_newcomer_keeps_its_own():
    rooms = RoomsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    room = rooms.create_room(Actor("api_key", "k"), name="r", persistent=True)["id"]
    store = InMemoryConnectionStore()
    service = SocketService(rooms, store)
    got: dict[str, list[int]] = {}

    def post(connection_id, text):
        got.setdefault(connection_id, []).append(json.loads(text)["seq"])
        return True

    for cid in ("a", "b"):
        service.connect(Actor("api_key", "k"), room, cid, after=1, role=None, replace=False,
                        expires=2**31)
    ada = Actor("participant", "ada")
    rooms.join(ada, room, identity="ada", role="speaker")
    service.deliver(room, post, json.dumps)
    shared = store.room_cursor(room)
    assert (shared.seq, shared.members) == (rooms.get_room(room)["version"], {"a", "b"})
    assert store.get("a").sent == 1  # its own cursor is not written: the room's counts
    service.connect(Actor("api_key", "k"), room, "c", after=1, role=None, replace=False,
                    expires=2**31)
    rooms.raise_hand(ada, room)
    service.deliver(room, post, json.dumps, only="c")  # a resume: c's own cursor moves
    assert store.get("c").sent == shared.seq + 1 and store.room_cursor(room) == shared
    rooms.lower_own_hand(ada, room)
    for _ in range(2):  # a retry repeats nothing
        service.deliver(room, post, json.dumps)
    shown = [e["seq"] for e in rooms.room_events(room, after=1) if e["type"] in TYPES]
    assert len(shown) == 3 and got == {"a": shown, "b": shown, "c": shown}
    assert store.room_cursor(room).members == {"a", "b", "c"}
