"""The connections table and its in-memory twin under one contract, and the events
table's stream as the embedded DynamoDB produces it, handed to the stream handler."""
from __future__ import annotations

import json

import pytest

from chalicelib import bootstrap
from chalicelib.application.realtime import TYPES
from chalicelib.application.sockets import SocketService
from chalicelib.bootstrap import build_application, build_connections
from chalicelib.domain.actor import Actor
from chalicelib.domain.connections import ConnectionRecord, RoomCursor
from chalicelib.persistence.connections import InMemoryConnectionStore
from devstack.stream_poller import StreamPoller
from tests.integration.api_support import store_env


@pytest.fixture(params=["memory", "dynamodb"])
def store(request, dynamodb_endpoint):
    if request.param == "memory":
        return InMemoryConnectionStore()
    return build_connections(store_env(dynamodb_endpoint))


def record(cid: str, room: str = "r1", sent: int = 0) -> ConnectionRecord:
    return ConnectionRecord(cid, room, "participant", "ada", "speaker", False, sent, 2**31)


def test_the_connection_store_contract(store):
    store.save(record("c1")), store.save(record("c2")), store.save(record("c3", room="r2"))
    assert store.get("c1") == record("c1") and store.get("nope") is None
    assert {r.connection_id for r in store.in_room("r1")} == {"c1", "c2"}
    store.advance_all([(record("c1"), 5), (record("c3", room="r2"), 7)])
    assert store.get("c1").sent == 5 and store.get("c3").sent == 7
    store.advance_all([(record(f"m{i}", room="r3"), i) for i in range(60)])  # over a batch
    assert [store.get(f"m{i}").sent for i in range(60)] == list(range(60))
    store.remove("c2"), store.remove("c2")
    assert [r.connection_id for r in store.in_room("r1")] == ["c1"]


def test_a_room_cursor_is_one_item_the_room_index_never_lists(store):
    assert store.room_cursor("r9") is None
    store.save(record("c9", room="r9"))
    cursor = RoomCursor("r9", 12, frozenset({"c9", "gone="}), 2**31)
    store.save_room_cursor(cursor)
    assert store.room_cursor("r9") == cursor
    store.save_room_cursor(RoomCursor("r9", 13, frozenset({"c9"}), 2**31))
    assert store.room_cursor("r9").seq == 13
    assert [r.connection_id for r in store.in_room("r9")] == ["c9"]


def test_stream_records_from_the_embedded_store_reach_the_sockets(dynamodb_endpoint):
    env = store_env(dynamodb_endpoint)
    rooms = build_application(env)
    connections = build_connections(env)
    sockets = SocketService(rooms, connections)
    room = rooms.create_room(Actor("api_key", "k"), name="r", persistent=True)
    sockets.connect(Actor("api_key", "k"), room["id"], "c1", after=None, role=None,
                    replace=False, expires=2**31)
    batches: list[dict] = []
    from chalicelib.persistence.settings import DynamoDBSettings
    from eventsourcing.utils import Environment
    name = DynamoDBSettings.from_env(Environment(rooms.name, env)).table_name(rooms.name, "events")
    poller = StreamPoller(name, lambda event, context: batches.append(event), dynamodb_endpoint)
    rooms.join(Actor("participant", "ann"), room["id"], identity="ann", role="host")
    rooms.raise_hand(Actor("participant", "ann"), room["id"])
    while poller.poll_once():
        pass
    records = [r for batch in batches for r in batch["Records"]]
    events = rooms.room_events(room["id"], after=room["version"])  # the join, the hand
    assert [r["eventName"] for r in records] == ["INSERT"] * len(records)
    mine = [int(r["dynamodb"]["Keys"]["v"]["N"]) for r in records
            if r["dynamodb"]["Keys"]["i"]["S"] == room["id"]]
    assert mine == [e["seq"] for e in events]
    assert all(r["eventSourceARN"] == poller.arn and
               isinstance(r["dynamodb"]["ApproximateCreationDateTime"], float) for r in records)

    from chalice.app import DynamoDBEvent
    from chalicelib.api import websocket
    sent: list[str] = []
    bootstrap.configure(application=rooms, connections=connections)
    try:
        for batch in batches:
            websocket.stream(DynamoDBEvent(batch, None), lambda cid, text: sent.append(text) or True)
    finally:
        bootstrap.reset()
    assert [json.loads(t)["type"] for t in sent] == ["PARTICIPANT_JOINED", "HAND_RAISED"]
    assert [json.loads(t)["seq"] for t in sent] == [e["seq"] for e in events
                                                    if e["type"] in TYPES]
