"""Capacity and bans hold under concurrent commands (threads on the in-memory store).

Each scenario runs twice. With group commit (``DROPON_GROUP_COMMIT=y``, one process
serving many requests) the commands that queue for a room share one save. Saving each
on its own (``n``, as each Lambda invocation does) every command loads the room, checks
and saves with the version it read; a conflicting save raises the store's
IntegrityError and the command runs again. The same scenarios run on the embedded
DynamoDB in the integration tests.
"""

import threading
import time
from collections import Counter

import pytest
from eventsourcing.persistence import IntegrityError

from chalicelib.application import Actor, RoomsApplication
from chalicelib.domain import errors

KEY = Actor("api_key", "key-1")
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class RacyRooms(RoomsApplication):
    """Widens the gap between load and save so that threads really collide,
    and counts the conflicts the store reported."""

    conflicts = 0
    saves = 0

    def _load(self, room_id, version=None):
        room = super()._load(room_id, version)
        time.sleep(0.001)
        return room

    def save(self, *objs, **kwargs):
        try:
            recordings = super().save(*objs, **kwargs)
        except IntegrityError:
            type(self).conflicts += 1
            raise
        type(self).saves += 1
        return recordings


def run_together(calls):
    """Run the calls in threads released at once; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except errors.DomainError as error:
            results[i] = error

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.fixture(params=["y", "n"], ids=["group-commit", "save-each"])
def app(request):
    RacyRooms.conflicts = RacyRooms.saves = 0
    application = RacyRooms(env={**POPO, "DROPON_GROUP_COMMIT": request.param})
    yield application
    application.close()


def test_64_concurrent_joins_to_a_64_seat_room_holding_one_give_63_joins_and_one_room_full(app):
    room_id = app.create_room(KEY, name="full house", persistent=True)["id"]
    app.join(Actor("participant", "first"), room_id, identity="first", role="host")

    def joiner(n):
        return lambda: app.join(Actor("participant", f"u{n}"), room_id, identity=f"u{n}", role="speaker")

    saves_before = app.saves
    results = run_together([joiner(n) for n in range(64)])
    outcomes = Counter(r["status"] if isinstance(r, dict) else r.code for r in results)
    assert outcomes == {"joined": 63, "room_full": 1}
    assert app.get_room(room_id)["counts"]["joined"] == 64
    joined = [r["participantId"] for r in results if isinstance(r, dict)]
    assert len(set(joined)) == 63
    if app.group_commit is None:
        assert app.conflicts > 0, "the threads never collided, so the retry was not exercised"
    else:
        assert app.saves - saves_before < 63, "every join had a save of its own: nothing was grouped"


def test_a_kicked_identity_stays_out_while_it_races_to_rejoin(app):
    room_id = app.create_room(KEY, name="bans", persistent=True)["id"]
    app.join(Actor("participant", "hugo"), room_id, identity="hugo", role="host")
    mallory = app.join(Actor("participant", "mallory"), room_id, identity="mallory", role="speaker")
    me = Actor("participant", "mallory")
    kicked = app.kick(Actor("participant", "hugo"), room_id, mallory["participantId"])
    assert "mallory" in {b["identity"] for b in kicked["bans"]}

    def rejoin():
        return app.join(me, room_id, identity="mallory", role="speaker", replace=True)

    def joiner(n):
        return lambda: app.join(Actor("participant", f"u{n}"), room_id, identity=f"u{n}",
                                role="speaker")

    # others' joins move the room on under the rejoins, so they read changing versions
    results = run_together([rejoin] * 16 + [joiner(n) for n in range(8)])

    refused = [r.code if isinstance(r, errors.DomainError) else r for r in results[:16]]
    assert refused == ["banned"] * 16
    assert [r["status"] for r in results[16:]] == ["joined"] * 8
    view = app.get_room(room_id)
    assert "mallory" in {b["identity"] for b in view["bans"]}
    assert [p for p in view["participants"] if p["identity"] == "mallory"
            and p["state"] in ("joined", "waiting")] == []
    joins_after = [e for e in app.room_events(room_id, after=kicked["version"], limit=1000)
                   if e["type"] == "ParticipantJoined" and e["data"]["identity"] == "mallory"]
    assert joins_after == []


def test_a_command_gives_up_with_conflict_after_its_attempts():
    class AlwaysLosing(RoomsApplication):
        max_attempts = 3
        losing = False

        def save(self, *objs, **kwargs):
            if self.losing:
                raise IntegrityError("someone else wrote first")
            return super().save(*objs, **kwargs)

    app = AlwaysLosing(env=POPO)
    room_id = app.create_room(KEY, name="busy", persistent=True)["id"]
    app.losing = True
    with pytest.raises(errors.Conflict) as info:
        app.join(Actor("participant", "u"), room_id, identity="u", role="speaker")
    assert info.value.code == "conflict" and info.value.status == 409
    assert app.get_room(room_id)["version"] == 1


def test_a_burst_of_knocks_waits_and_concurrent_admissions_fill_exactly_the_free_seats(app):
    host = Actor("participant", "host")
    room_id = app.create_room(KEY, name="lobby", persistent=True,
                              policy={"waitingRoom": True, "maxParticipants": 8})["id"]
    app.join(host, room_id, identity="host", role="host")

    def knocker(n):
        return lambda: app.join(Actor("participant", f"k{n}"), room_id, identity=f"k{n}", role="speaker")

    knocks = run_together([knocker(n) for n in range(24)])
    assert Counter(r["status"] for r in knocks) == {"waiting": 24}
    waiting = [r["participantId"] for r in knocks]

    def admit(pid):
        return lambda: app.admit(host, room_id, pid)

    admitted = run_together([admit(pid) for pid in waiting])
    outcomes = Counter("admitted" if isinstance(r, dict) else r.code for r in admitted)
    assert outcomes == {"admitted": 7, "room_full": 17}
    view = app.get_room(room_id)
    states = Counter(p["state"] for p in view["participants"])
    assert states == {"joined": 8, "waiting": 17}
    events = app.room_events(room_id, limit=1000)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert sum(e["type"] == "ParticipantAdmitted" for e in events) == 7

