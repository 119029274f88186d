"""A narrated town hall through RoomsApplication: waiting room, stage, host controls,
media node, and the scheduler closing the emptied room."""

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.application import Actor, RoomsApplication
from chalicelib.application.index import LiveRoomIndex
from chalicelib.domain import errors

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = Actor("api_key", "key-1")
HUGO, ANN, BOB = (Actor("participant", n) for n in ("hugo", "ann", "bob"))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def app():
    application = RoomsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def state(view, participant_id):
    return next(p for p in view["participants"] if p["id"] == participant_id)


def test_a_town_hall_from_waiting_room_to_empty_timeout(app):
    room = app.create_room(
        KEY, name="Town hall", starts_at=at(0), ends_at=at(7200), now=T0,
        policy={"waitingRoom": True, "stageMode": True, "hostRequired": True,
                "autoClose": {"emptyTimeoutSeconds": 120}},
    )["id"]

    # the audience cannot get in before the host
    with pytest.raises(errors.HostRequired):
        app.join(ANN, room, identity="ann", role="audience", now=at(5))
    hugo = app.join(HUGO, room, identity="hugo", role="host", now=at(10))
    assert hugo["status"] == "joined" and app.get_room(room)["status"] == "open"

    # ann and bob knock; hugo admits ann and turns bob away
    ann = app.join(ANN, room, identity="ann", role="audience", now=at(20))
    bob = app.join(BOB, room, identity="bob", role="audience", now=at(21))
    assert (ann["status"], ann["canPublish"]["audio"]) == ("waiting", False)
    with pytest.raises(errors.NotAllowed):
        app.admit(ANN, room, ann["participantId"], now=at(22))
    app.admit(HUGO, room, ann["participantId"], now=at(23))
    view = app.deny(HUGO, room, bob["participantId"], now=at(24))
    assert state(view, ann["participantId"])["state"] == "joined"
    assert state(view, bob["participantId"])["state"] == "denied"

    # ann raises her hand; hugo brings her on stage, then mutes her video
    app.raise_hand(ANN, room, now=at(30))
    view = app.promote(HUGO, room, ann["participantId"], now=at(31))
    assert state(view, ann["participantId"])["role"] == "speaker"
    view = app.mute(HUGO, room, ann["participantId"], audio=False, video=True, now=at(32))
    assert state(view, ann["participantId"])["muted"] == {"audio": False, "video": True}
    app.raise_hand(ANN, room, now=at(33))
    app.lower_hand(HUGO, room, ann["participantId"], now=at(34))
    app.raise_hand(ANN, room, now=at(35))
    view = app.lower_own_hand(ANN, room, now=at(36))
    assert state(view, ann["participantId"])["handRaised"] is False
    view = app.demote(HUGO, room, ann["participantId"], now=at(37))
    assert state(view, ann["participantId"])["role"] == "audience"

    # the control plane assigns a media node; the view and the join response show it
    view = app.assign_media_node(Actor("system", "control"), room, "node-1",
                                 "http://127.0.0.1:8100", now=at(38))
    assert view["mediaNode"] == {"nodeId": "node-1", "url": "http://127.0.0.1:8100",
                                 "assignedAt": "2026-03-01T09:00:38Z"}

    # bob is kicked from the waiting room for good measure, and later forgiven
    bob = app.join(BOB, room, identity="bob", role="audience", now=at(40))
    view = app.kick(HUGO, room, bob["participantId"], now=at(41))
    assert [b["identity"] for b in view["bans"]] == ["bob"]
    assert view["bans"][0]["by"] == {"kind": "participant", "id": "hugo"}
    with pytest.raises(errors.IdentityBanned):
        app.join(BOB, room, identity="bob", role="audience", now=at(42))
    assert app.lift_ban(HUGO, room, "bob", now=at(43))["bans"] == []

    # everyone leaves; the scheduler closes the room two minutes later
    app.leave(ANN, room, ann["participantId"], now=at(50))
    app.leave(HUGO, room, hugo["participantId"], now=at(60))
    assert app.tick(at(179)) == []
    [closed] = app.tick(at(180))
    assert (closed["type"], closed["reason"]) == ("RoomClosed", "empty_timeout")

    # every step is an event with its actor, and the whole story replays
    events = app.room_events(room, limit=1000)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["actor"] == {"kind": "system", "id": "scheduler"}
    assert app.get_room(room, at=at(37))["participants"][1]["role"] == "audience"
    assert app.get_room(room, at=at(36))["participants"][1]["role"] == "speaker"


def test_a_host_named_by_participant_id_must_own_that_record(app):
    room = app.create_room(KEY, name="r", persistent=True, now=T0)["id"]
    hugo = app.join(HUGO, room, identity="hugo", role="host", now=at(1))
    ann = app.join(ANN, room, identity="ann", role="speaker", now=at(2))
    with pytest.raises(errors.NotAllowed):
        app.mute(Actor("participant", "ann", hugo["participantId"]), room, hugo["participantId"], now=at(3))
    app.mute(Actor("participant", "hugo", hugo["participantId"]), room, ann["participantId"], now=at(3))


def test_the_live_room_index_forgets_closed_rooms_and_rebuilds_from_the_log(app):
    ids = [app.create_room(KEY, name=f"r{i}", persistent=True, now=T0)["id"] for i in range(3)]
    assert [str(i) for i in app.live_rooms.room_ids()] == ids
    app.close_room(KEY, ids[1], now=at(1))
    assert [str(i) for i in app.live_rooms.room_ids()] == [ids[0], ids[2]]

    clock = [0.0]
    index = LiveRoomIndex(app.recorder, page_size=1, rebuild_seconds=10, clock=lambda: clock[0])
    assert [str(i) for i in index.room_ids()] == [ids[0], ids[2]]  # paged one at a time
    index._rooms.clear()  # pretend it missed something; a rebuild recovers it
    clock[0] = 11
    assert [str(i) for i in index.room_ids()] == [ids[0], ids[2]]


def test_the_index_names_the_recordings_whose_leftovers_are_to_be_swept(app):
    from chalicelib.domain import SCHEDULER

    room = app.create_room(KEY, name="r", persistent=True, policy={"mediaMode": "SFU"},
                           now=T0)["id"]
    app.assign_media_node(KEY, room, "node-1", "http://node-1", now=at(1))
    app.update_room(room, lambda r, t: r.start_recording(
        KEY, recording_id="rec-1", destination_id="d", output="per-track", at=t), at(2))
    app.tick(at(40), live_nodes=set())  # node_lost: to sweep now
    key = (app.room(room).id, "rec-1")
    assert app.live_rooms.sweeps() == {key: (0, at(40))}

    def sweep(found, attempt, seconds):
        app.update_room(room, lambda r, t: r.list_leftovers(
            SCHEDULER, "rec-1", found, attempt=attempt, at=t), at(seconds))

    down = {"objects": [], "uploads": [], "error": "503", "retryable": True}
    sweep(down, 1, 41)
    assert app.live_rooms.sweeps() == {key: (1, at(41))}
    app.live_rooms.swept(*key, 2, at(101))  # the same answer again: noted, not recorded
    assert app.live_rooms.sweeps() == {key: (2, at(101))}
    # a new process counts from the last sweep recorded
    assert LiveRoomIndex(app.recorder, decode=app.mapper.to_domain_event).sweeps() == {
        key: (1, at(41))}
    sweep({**down, "error": None}, 3, 221)
    assert app.live_rooms.sweeps() == {}


def test_tick_reports_a_room_that_fails_and_goes_on(app, caplog):
    good = app.create_room(KEY, name="good", starts_at=at(10), ends_at=at(20), now=T0)["id"]

    class Broken(Exception):
        code = "boom"

    original = app._load

    def load(room_id, version=None):
        room = original(room_id, version)
        if str(room_id) == bad:
            raise Broken()
        return room

    bad = app.create_room(KEY, name="bad", starts_at=at(10), ends_at=at(20), now=T0)["id"]
    app._load = load
    changes = app.tick(at(10))
    assert {"roomId": bad, "error": "boom"} in changes
    assert {"roomId": good, "type": "RoomOpened", "reason": "scheduled_start", "seq": 2} in changes


def test_mute_events_name_the_kinds_as_the_media_node_reads_them(app):
    # media_node/control/events.py muted_kinds(): audio/video flags; neither flag means both
    room = app.create_room(KEY, name="r", persistent=True, now=T0)["id"]
    ann = app.join(ANN, room, identity="ann", role="speaker", now=at(1))
    app.mute(KEY, room, ann["participantId"], audio=True, video=False, now=at(2))
    app.mute(KEY, room, ann["participantId"], audio=True, video=True, muted=False, now=at(3))
    muted, unmuted = app.room_events(room, after=3)
    assert (muted["type"], muted["data"]) == (
        "ParticipantMuted", {"participantId": ann["participantId"], "audio": True, "video": False})
    assert (unmuted["type"], unmuted["data"]["audio"], unmuted["data"]["video"]) == (
        "ParticipantUnmuted", True, False)
