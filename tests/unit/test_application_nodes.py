"""Joins and media grants with media nodes, wired by bootstrap on the in-memory store.

A join reads the registry's healthy nodes first, then runs one command: the join and,
for a joined participant of an SFU room, the room's node, in one save.
"""
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib import bootstrap
from chalicelib.application import Actor, RoomsApplication
from chalicelib.application.errors import NoMediaNode
from chalicelib.application.nodes import MediaGrant
from chalicelib.config import Settings
from chalicelib.domain import errors
from chalicelib.domain.nodes import NodeRecord
from chalicelib.persistence.nodes import InMemoryNodeRegistry

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = Actor("api_key", "key-1")
ANN = Actor("participant", "ann")


class CountingRooms(RoomsApplication):
    """Counts the saves of commands (the room's creation included)."""

    saves = 0

    def save(self, *objs, **kwargs):
        self.saves += 1
        return super().save(*objs, **kwargs)


@pytest.fixture
def registry():
    return InMemoryNodeRegistry()


@pytest.fixture
def rooms(registry):
    application = CountingRooms(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    bootstrap.configure(settings=Settings(node_dead_after=15.0), application=application,
                        node_registry=registry, clock=lambda: T0)
    yield application
    bootstrap.reset()
    application.close()


def beat(registry, node_id, seconds_ago=0.0, participants=0, capacity=64):
    seen = (T0 - timedelta(seconds=seconds_ago)).timestamp()
    registry.save(NodeRecord(node_id, f"http://{node_id}", 0, participants, 0, 0.0, capacity,
                             seen=seen, registered=seen))


def sfu_room(rooms, **policy):
    return rooms.create_room(KEY, name="sfu", persistent=True,
                             policy={"mediaMode": "SFU", **policy}, now=T0)["id"]


def join(room_id, identity="ann"):
    return bootstrap.nodes().join(Actor("participant", identity), room_id, identity=identity,
                                  role="speaker", replace=False, now=bootstrap.now())


def events(rooms, room_id):
    return [e["type"] for e in rooms.room_events(room_id, limit=1000)]


def test_a_join_and_its_node_assignment_are_one_save(rooms, registry):
    beat(registry, "busy", participants=40)
    beat(registry, "idle", participants=1)
    room_id = sfu_room(rooms)
    before = rooms.saves
    joined = join(room_id)
    assert rooms.saves - before == 1
    assert events(rooms, room_id)[-2:] == ["ParticipantJoined", "MediaNodeAssigned"]
    assert joined["mediaNode"]["nodeId"] == "idle" and joined["mediaError"] is None
    assert joined["version"] == rooms.get_room(room_id)["version"]
    assert joined["media"] == MediaGrant(
        node_id="idle", url=f"http://idle/rooms/{room_id}/whip", room_id=room_id,
        participant_id=joined["participantId"], identity="ann", role="speaker",
        call_id=joined["callId"], audio_only=False, seq=joined["version"])


def test_a_room_keeps_its_healthy_node_and_leaves_a_dead_one_in_the_joins_save(rooms, registry):
    beat(registry, "a")
    room_id = sfu_room(rooms)
    assert join(room_id, "ann")["mediaNode"]["nodeId"] == "a"
    beat(registry, "b")  # idle, but the room stays where it is while "a" lives
    assert join(room_id, "bob")["mediaNode"]["nodeId"] == "a"
    beat(registry, "a", seconds_ago=16)  # silent for longer than node_dead_after
    before = rooms.saves
    assert join(room_id, "cy")["media"].node_id == "b"
    assert rooms.saves - before == 1
    assert [e for e in events(rooms, room_id) if e == "MediaNodeAssigned"] == ["MediaNodeAssigned"] * 2


def test_without_a_healthy_node_the_join_is_saved_without_media(rooms, registry):
    beat(registry, "dead", seconds_ago=60)
    beat(registry, "full", participants=8, capacity=8)
    room_id = sfu_room(rooms)
    joined = join(room_id)
    assert joined["status"] == "joined" and joined["media"] is None
    assert joined["mediaError"] == {"code": "no_media_node", "retryAfter": 5,
                                    "message": NoMediaNode().message}
    assert "MediaNodeAssigned" not in events(rooms, room_id)


def test_waiting_and_p2p_joins_get_no_media_and_no_node(rooms, registry):
    beat(registry, "a")
    waiting_room = sfu_room(rooms, waitingRoom=True)
    p2p = sfu_room(rooms, mediaMode="P2P")
    for room_id, status in ((waiting_room, "waiting"), (p2p, "joined")):
        joined = join(room_id)
        assert (joined["status"], joined["media"], joined["mediaError"]) == (status, None, None)
        assert "MediaNodeAssigned" not in events(rooms, room_id)


def test_a_media_grant_moves_the_room_off_its_dead_node(rooms, registry):
    beat(registry, "a")
    room_id = sfu_room(rooms)
    joined = join(room_id)
    with pytest.raises(errors.InvalidState) as refused:
        bootstrap.nodes().media(room_id, "nobody", T0)
    assert refused.value.code == "not_joined"
    beat(registry, "a", seconds_ago=60)
    with pytest.raises(NoMediaNode):
        bootstrap.nodes().media(room_id, "ann", T0)
    beat(registry, "b")
    grant = bootstrap.nodes().media(room_id, "ann", T0)
    assert (grant.node_id, grant.participant_id) == ("b", joined["participantId"])
    assert rooms.get_room(room_id)["mediaNode"]["nodeId"] == "b"


def test_a_grant_carries_the_rooms_audio_only_policy_as_of_its_version(rooms, registry):
    beat(registry, "a")
    room_id = sfu_room(rooms, audioOnly=True)
    joined = join(room_id)
    assert (joined["media"].audio_only, joined["media"].seq) == (True, joined["version"])
    changed = rooms.update_policy(KEY, room_id, {"audioOnly": False}, now=T0)
    grant = bootstrap.nodes().media(room_id, "ann", T0)  # a reconnect's grant: as it is now
    assert (grant.audio_only, grant.seq) == (False, changed["version"])


def test_bootstrap_builds_the_node_service_once(rooms):
    assert bootstrap.nodes() is bootstrap.nodes()
    assert bootstrap.nodes().rooms is rooms
