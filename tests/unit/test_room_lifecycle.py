"""The Room aggregate's lifecycle and policy: creation, opening, closing, tick."""

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain import SCHEDULER, Actor, Room
from chalicelib.domain import errors

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = Actor("api_key", "key-1")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def scheduled(**kwargs) -> Room:
    kwargs.setdefault("starts_at", at(60))
    kwargs.setdefault("ends_at", at(3600))
    return Room.create(KEY, at=T0, name="Town hall", **kwargs)


def join(room, identity, role="speaker", when=100, **kw):
    pid = f"p-{identity}-{len(room.participants)}"
    room.join(Actor("participant", identity), participant_id=pid, call_id="c-" + pid,
              identity=identity, role=role, at=at(when), **kw)
    return pid


def types(room) -> list[str]:
    return [type(e).__name__ for e in room.collect_events()]


def test_created_room_is_scheduled_with_defaults_and_records_its_actor():
    room = scheduled(metadata={"topic": "Q1"})
    assert room.status == "scheduled"
    assert room.policy["maxParticipants"] == 64 and room.policy["mediaMode"] == "SFU"
    assert room.policy["autoClose"]["emptyTimeoutSeconds"] == 300
    [created] = room.collect_events()
    assert created.actor == {"kind": "api_key", "id": "key-1"} and created.timestamp == T0


@pytest.mark.parametrize("kwargs, field", [
    ({"starts_at": None}, "startsAt"),
    ({"ends_at": at(30)}, "endsAt"),
    ({"starts_at": at(-7200), "ends_at": at(-60)}, "endsAt"),
    ({"starts_at": datetime(2026, 3, 1, 10), "ends_at": at(7200)}, "startsAt"),
    ({"metadata": {"blob": "x" * 5000}}, "metadata"),
    ({"metadata": {"when": T0}}, "metadata"),
    ({"policy": {"maxParticipants": 65}}, "maxParticipants"),
    ({"policy": {"mediaMode": "P2P", "maxParticipants": 9}}, "maxParticipants"),
    ({"policy": {"mediaMode": "MCU"}}, "mediaMode"),
    ({"policy": {"waitingRoom": "yes"}}, "waitingRoom"),
    ({"policy": {"colour": "red"}}, "colour"),
    ({"policy": {"autoClose": {"emptyTimeoutSeconds": 0}}}, "autoClose.emptyTimeoutSeconds"),
    ({"policy": {"autoClose": {"closeAt": "2026-03-01T08:00:00Z"}}}, "autoClose.closeAt"),
])
def test_invalid_rooms_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(errors.InvalidArgument) as info:
        scheduled(**kwargs)
    assert info.value.ids["field"] == field and info.value.status == 422


def test_a_room_is_either_scheduled_or_persistent():
    with pytest.raises(errors.InvalidArgument):
        Room.create(KEY, at=T0, name="x", starts_at=at(1), ends_at=at(2), persistent=True)
    room = Room.create(KEY, at=T0, name="lounge", persistent=True)
    assert room.policy["autoClose"]["emptyTimeoutSeconds"] is None
    assert room.starts_at is None


def test_only_an_api_key_creates_rooms():
    with pytest.raises(errors.NotAllowed):
        Room.create(Actor("participant", "eve"), at=T0, name="x", persistent=True)


def test_p2p_rooms_default_to_a_small_mesh():
    assert scheduled(policy={"mediaMode": "P2P"}).policy["maxParticipants"] == 8


def test_opens_at_its_scheduled_start_and_closes_at_ends_at():
    room = scheduled()
    room.collect_events()
    room.tick(at(59))
    assert room.status == "scheduled" and not room.pending_events
    room.tick(at(60))
    assert room.status == "open" and room.opened_at == at(60)
    room.tick(at(3600))
    assert room.status == "closed" and room.closed_reason == "ends_at"
    assert types(room) == ["RoomOpened", "RoomClosed"]
    assert room.collect_events() == []


def test_opens_at_the_first_join_before_its_start():
    room = scheduled()
    join(room, "ann", when=10)
    assert room.status == "open"
    assert types(room) == ["RoomCreated", "RoomOpened", "ParticipantJoined"]


def test_host_required_room_opens_when_the_first_host_joins():
    room = scheduled(policy={"hostRequired": True})
    room.tick(at(120))
    assert room.status == "scheduled"
    with pytest.raises(errors.HostRequired):
        join(room, "ann")
    join(room, "hugo", role="host")
    assert room.status == "open"
    join(room, "ann")


def test_empty_timeout_closes_an_open_room():
    room = scheduled(policy={"autoClose": {"emptyTimeoutSeconds": 30}})
    pid = join(room, "ann", when=100)
    room.leave(Actor("participant", "ann"), pid, at=at(110))
    assert room.empty_since == at(110)
    room.tick(at(139))
    assert room.status == "open"
    room.tick(at(140))
    assert (room.status, room.closed_reason) == ("closed", "empty_timeout")


def test_a_join_resets_the_empty_clock():
    room = scheduled(policy={"autoClose": {"emptyTimeoutSeconds": 30}})
    pid = join(room, "ann", when=100)
    room.leave(Actor("participant", "ann"), pid, at=at(110))
    join(room, "bob", when=130)
    room.tick(at(500))
    assert room.status == "open" and room.empty_since is None


def test_persistent_room_never_auto_closes_unless_its_policy_says_so():
    room = Room.create(KEY, at=T0, name="lounge", persistent=True)
    pid = join(room, "ann", when=1)
    room.leave(Actor("participant", "ann"), pid, at=at(2))
    room.tick(at(10**7))
    assert room.status == "open"
    room.update_policy(KEY, {"autoClose": {"emptyTimeoutSeconds": 60}}, at=at(10**7))
    room.tick(at(10**7 + 1))
    assert (room.status, room.closed_reason) == ("closed", "empty_timeout")


def test_close_at_closes_the_room_and_a_closed_room_refuses_joins():
    room = scheduled(policy={"autoClose": {"closeAt": at(600)}})
    join(room, "ann", when=100)
    with pytest.raises(errors.RoomClosed):
        join(room, "bob", when=600)
    room.tick(at(600))
    assert room.closed_reason == "close_at"
    assert room.participants["p-ann-0"]["state"] == "left"
    assert room.participants["p-ann-0"]["reason"] == "room_closed"


def test_a_host_ends_the_room():
    room = scheduled()
    join(room, "hugo", role="host")
    pid = join(room, "ann")
    with pytest.raises(errors.NotAllowed) as info:
        room.close(Actor("participant", "ann"), at=at(200))
    assert info.value.code == "not_a_host"
    room.close(Actor("participant", "hugo"), at=at(200))
    assert (room.status, room.closed_reason) == ("closed", "host_ended")
    with pytest.raises(errors.RoomClosed):
        room.close(KEY, at=at(201))
    with pytest.raises(errors.RoomClosed):
        join(room, "zed", when=300)
    assert room.participants[pid]["state"] == "left"


def test_policy_changes_need_a_host_and_are_events():
    room = scheduled()
    join(room, "hugo", role="host")
    join(room, "ann")
    room.collect_events()
    with pytest.raises(errors.NotAllowed):
        room.update_policy(Actor("participant", "ann"), {"stageMode": True}, at=at(200))
    room.update_policy(Actor("participant", "hugo"), {"stageMode": True, "waitingRoom": False}, at=at(200))
    [changed] = room.collect_events()
    assert type(changed).__name__ == "PolicyChanged"
    assert changed.changes == {"stageMode": True}
    assert changed.actor == {"kind": "participant", "id": "hugo"}
    room.update_policy(KEY, {"stageMode": True}, at=at(201))
    assert room.collect_events() == []  # nothing changed, nothing recorded


def test_media_mode_is_locked_while_anyone_is_joined():
    room = scheduled()
    join(room, "ann")
    with pytest.raises(errors.InvalidState) as info:
        room.update_policy(KEY, {"mediaMode": "P2P", "maxParticipants": 8}, at=at(200))
    assert info.value.code == "media_mode_locked"


def test_media_node_assignment_is_recorded_once_per_change():
    room = scheduled()
    room.assign_media_node(SCHEDULER, "node-1", "http://127.0.0.1:8100", at=at(1))
    room.assign_media_node(SCHEDULER, "node-1", "http://127.0.0.1:8100", at=at(2))
    assert types(room) == ["RoomCreated", "MediaNodeAssigned"]
    assert room.media_node["node_id"] == "node-1"
    with pytest.raises(errors.NotAllowed):
        room.assign_media_node(Actor("node", "node-2"), "node-2", "http://x", at=at(3))


def test_recorded_times_never_go_backwards():
    room = scheduled()
    join(room, "ann", when=100)
    join(room, "bob", when=50)
    stamps = [e.timestamp for e in room.collect_events()]
    assert stamps == sorted(stamps) and stamps[-1] == at(100)


def test_naive_times_are_refused():
    room = scheduled()
    with pytest.raises(errors.InvalidArgument):
        room.tick(datetime(2026, 3, 1, 10))


def test_a_room_that_never_opened_closes_at_ends_at_without_opening():
    room = scheduled()
    room.collect_events()
    room.tick(at(4000))
    assert types(room) == ["RoomClosed"] and room.opened_at is None
