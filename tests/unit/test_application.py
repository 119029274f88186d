"""RoomsApplication on the in-memory (POPO) event store: the use cases the HTTP layer calls."""

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from chalicelib.application import Actor, RoomsApplication
from chalicelib.domain import errors

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = Actor("api_key", "key-1")
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def who(identity: str) -> Actor:
    return Actor("participant", identity)


@pytest.fixture
def app():
    application = RoomsApplication(env=POPO)
    yield application
    application.close()


@pytest.fixture
def room_id(app):
    return app.create_room(KEY, name="Standup", starts_at=at(60), ends_at=at(3600), now=T0)["id"]


def test_create_and_get_a_room_as_a_json_view(app):
    view = app.create_room(
        KEY, name="Standup", policy={"stageMode": True}, metadata={"team_id": 7},
        starts_at="2026-03-01T09:01:00Z", ends_at=at(3600), now=T0,
    )
    assert app.get_room(view["id"]) == view
    assert view["status"] == "scheduled" and view["version"] == 1
    assert view["startsAt"] == "2026-03-01T09:01:00Z" and view["createdAt"] == "2026-03-01T09:00:00Z"
    assert view["metadata"] == {"team_id": 7} and view["policy"]["stageMode"] is True
    assert view["participants"] == [] and view["bans"] == [] and view["mediaNode"] is None


def test_unknown_and_malformed_room_ids_are_not_found(app):
    for room_id in (uuid4(), str(uuid4()), "not-a-uuid"):
        with pytest.raises(errors.RoomNotFound) as info:
            app.get_room(room_id)
        assert info.value.code == "room_not_found" and info.value.status == 404


def test_join_returns_the_session_and_leave_ends_it(app, room_id):
    joined = app.join(who("ann"), room_id, identity="ann", role="audience", now=at(10))
    assert joined["status"] == "joined" and joined["role"] == "speaker"  # no stage mode
    assert joined["mediaMode"] == "SFU" and joined["canPublish"] == {"audio": True, "video": True}
    assert joined["roomId"] == room_id and joined["callId"]
    view = app.leave(who("ann"), room_id, joined["participantId"], now=at(20))
    [ann] = view["participants"]
    assert (ann["state"], ann["reason"], ann["leftAt"]) == ("left", "left", "2026-03-01T09:00:20Z")


def test_a_participant_cannot_end_someone_elses_session(app, room_id):
    ann = app.join(who("ann"), room_id, identity="ann", role="speaker", now=at(10))
    with pytest.raises(errors.NotAllowed):
        app.leave(who("bob"), room_id, ann["participantId"], now=at(11))
    node = Actor("node", "node-1")
    view = app.leave(node, room_id, ann["participantId"], reason="ice_failed", now=at(12))
    assert view["participants"][0]["reason"] == "ice_failed"


def test_room_events_are_numbered_by_version_and_record_actor_and_time(app, room_id):
    app.join(who("ann"), room_id, identity="ann", role="host", now=at(10))
    app.update_policy(who("ann"), room_id, {"waitingRoom": True}, now=at(11))
    events = app.room_events(room_id)
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [e["type"] for e in events] == ["RoomCreated", "RoomOpened", "ParticipantJoined", "PolicyChanged"]
    assert events[3]["actor"] == {"kind": "participant", "id": "ann"}
    assert events[3]["time"] == "2026-03-01T09:00:11Z"
    assert events[3]["data"]["changes"] == {"waitingRoom": True}
    assert app.room_events(room_id, after=2, limit=1) == events[2:3]
    assert app.room_events(room_id, after=4) == []
    with pytest.raises(errors.RoomNotFound):
        app.room_events(uuid4())


def test_any_past_version_or_time_can_be_replayed(app, room_id):
    app.join(who("ann"), room_id, identity="ann", role="host", now=at(10))
    app.close_room(who("ann"), room_id, now=at(20))
    assert app.get_room(room_id, version=1)["status"] == "scheduled"
    assert app.get_room(room_id, at=at(15))["status"] == "open"
    assert app.get_room(room_id, at="2026-03-01T09:00:20Z")["status"] == "closed"
    with pytest.raises(errors.RoomNotFound):
        app.get_room(room_id, at=at(-1))
    with pytest.raises(errors.VersionNotFound):
        app.get_room(room_id, version=99)
    with pytest.raises(errors.InvalidArgument):
        app.get_room(room_id, version=0)


def test_policy_errors_reach_the_caller_with_their_code(app, room_id):
    with pytest.raises(errors.InvalidPolicy) as info:
        app.update_policy(KEY, room_id, {"maxParticipants": 100}, now=at(1))
    assert info.value.as_dict()["field"] == "maxParticipants"
    assert app.get_room(room_id)["version"] == 1


def test_join_after_ends_at_closes_the_room_and_is_refused(app, room_id):
    with pytest.raises(errors.RoomClosed):
        app.join(who("ann"), room_id, identity="ann", role="speaker", now=at(3600))
    view = app.get_room(room_id)
    assert (view["status"], view["closedReason"]) == ("closed", "ends_at")


def test_tokens_are_refused_for_closed_rooms_and_banned_identities(app, room_id):
    app.check_token_allowed(room_id, "ann", now=at(1))
    ann = app.join(who("ann"), room_id, identity="ann", role="speaker", now=at(10))
    app.kick(KEY, room_id, ann["participantId"], now=at(11))
    with pytest.raises(errors.IdentityBanned):
        app.check_token_allowed(room_id, "ann", now=at(12))
    app.lift_ban(KEY, room_id, "ann", now=at(13))
    app.check_token_allowed(room_id, "ann", now=at(14))
    app.close_room(KEY, room_id, now=at(15))
    with pytest.raises(errors.RoomClosed):
        app.check_token_allowed(room_id, "ann", now=at(16))


def test_list_rooms_pages_in_creation_order(app):
    ids = [app.create_room(KEY, name=f"r{i}", persistent=True, now=at(i))["id"] for i in range(5)]
    page, cursor = app.list_rooms(limit=2)
    assert [r["id"] for r in page] == ids[:2] and cursor
    page, cursor = app.list_rooms(limit=2, cursor=cursor)
    assert [r["id"] for r in page] == ids[2:4]
    page, cursor = app.list_rooms(limit=2, cursor=cursor)
    assert [r["id"] for r in page] == ids[4:] and cursor is None
    with pytest.raises(errors.InvalidArgument):
        app.list_rooms(cursor="abc")
    with pytest.raises(errors.InvalidArgument):
        app.list_rooms(limit=0)


def test_tick_opens_and_closes_rooms_and_reports_what_it_changed(app, room_id):
    other = app.create_room(KEY, name="later", starts_at=at(7200), ends_at=at(9000), now=T0)["id"]
    assert app.tick(at(30)) == []
    assert app.tick(at(60)) == [{"roomId": room_id, "type": "RoomOpened", "reason": "scheduled_start", "seq": 2}]
    changes = app.tick(at(3600))
    assert changes == [{"roomId": room_id, "type": "RoomClosed", "reason": "ends_at", "seq": 3}]
    assert app.tick(at(3601)) == []
    assert app.live_rooms.room_ids() == [UUID(other)]


def test_snapshots_are_taken_when_configured_and_replays_still_agree():
    app = RoomsApplication(env={**POPO, "DROPON_SNAPSHOT_INTERVAL": "3"})
    room_id = app.create_room(KEY, name="s", persistent=True, now=T0)["id"]
    for i in range(4):
        app.join(who(f"u{i}"), room_id, identity=f"u{i}", role="speaker", now=at(i + 1))
    assert app.snapshots is not None
    snapshots = app.snapshots.get(UUID(room_id))
    assert [s.originator_version for s in snapshots] == [3, 6]  # created, opened, 4 joins
    assert app.get_room(room_id, version=4)["counts"]["joined"] == 2
    assert app.get_room(room_id)["counts"]["joined"] == 4
