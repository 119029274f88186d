"""Group commit: commands that queue for a room while a save is under way share the next
save, in arrival order, each with its own outcome (in-memory store, real threads)."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from chalicelib.application import Actor, RoomsApplication
from chalicelib.application import group_commit
from chalicelib.application.group_commit import GroupCommit
from chalicelib.domain import errors

KEY = Actor("api_key", "key-1")
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo", "DROPON_GROUP_COMMIT": "y"}


def test_commands_queued_behind_a_save_run_as_one_batch_in_arrival_order():
    commit = GroupCommit()
    batches, release, first_in = [], threading.Event(), threading.Event()

    def execute(batch):
        batches.append([s.command for s in batch])
        if len(batches) == 1:
            first_in.set()
            release.wait(5)
        for s in batch:
            s.finish(room=s.command, saved=[])

    threads = [threading.Thread(target=commit.run, args=("r", "a", None, execute))]
    threads[0].start()
    assert first_in.wait(5)
    for name in "bcd":  # each queued before the next starts, so the order is known
        threads.append(threading.Thread(target=commit.run, args=("r", name, None, execute)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while len(commit._rooms["r"].pending) < "bcd".index(name) + 1:
            assert time.monotonic() < deadline
            time.sleep(0.001)
    release.set()
    for t in threads:
        t.join(5)
    assert batches == [["a"], ["b", "c", "d"]]
    assert commit._rooms == {}  # no queue is kept for an idle room


@pytest.fixture
def app():
    application = RoomsApplication(env=POPO)
    yield application
    application.close()


def now():
    return datetime.now(timezone.utc)


def batch_of(app, room_id, commands):
    """Run ``commands`` as one batch, the way a leader does; each one's events or error."""
    subs = [group_commit.Submission(c, now()) for c in commands]
    app._execute(UUID(room_id), subs)
    assert all(s.done for s in subs)
    return [s.error if s.error is not None else s.saved for s in subs]


def joining(identity, session="1"):
    return lambda room, at: room.join(
        Actor("participant", identity), participant_id=f"p-{identity}-{session}",
        call_id=f"c-{identity}-{session}", identity=identity, role="speaker", at=at)


def test_a_refused_command_fails_alone_and_the_rest_of_its_batch_is_saved(app):
    room_id = app.create_room(KEY, name="two seats", persistent=True,
                              policy={"maxParticipants": 2})["id"]
    outcomes = batch_of(app, room_id, [joining("a"), joining("b"), joining("c"), joining("a", "2")])
    assert [type(o).__name__ for o in outcomes] == ["list", "list", "RoomFull", "AlreadyJoined"]
    # the first join opens the room
    assert [type(e).__name__ for e in outcomes[0]] == ["RoomOpened", "ParticipantJoined"]
    assert [type(e).__name__ for e in outcomes[1]] == ["ParticipantJoined"]
    events = app.room_events(room_id)
    assert [e["type"] for e in events] == ["RoomCreated", "RoomOpened", "ParticipantJoined",
                                           "ParticipantJoined"]


def test_a_command_refused_after_it_changed_the_room_is_dropped_and_the_batch_rerun(app):
    room_id = app.create_room(KEY, name="tainted", persistent=True)["id"]

    def half_done(room, at):
        joining("x")(room, at)
        raise errors.InvalidState("changed its mind", code="changed_its_mind")

    outcomes = batch_of(app, room_id, [joining("a"), half_done, joining("b")])
    assert getattr(outcomes[1], "code", None) == "changed_its_mind"
    identities = [p["identity"] for p in app.get_room(room_id)["participants"]]
    assert identities == ["a", "b"]


def test_a_batch_past_the_event_limit_is_saved_in_several_transactions(app, monkeypatch):
    monkeypatch.setattr(group_commit, "MAX_EVENTS_PER_SAVE", 3)
    room_id = app.create_room(KEY, name="big batch", persistent=True)["id"]
    saves = []
    real_save = app.save
    monkeypatch.setattr(app, "save", lambda *a, **k: saves.append(1) or real_save(*a, **k))
    commit = GroupCommit()
    subs = [group_commit.Submission(joining(f"u{i}"), now()) for i in range(7)]
    queue = commit._enter("r")
    queue.pending.extend(subs)
    while queue.pending:
        batch = [queue.pending.popleft() for _ in range(len(queue.pending))]
        app._execute(UUID(room_id), batch)
        queue.pending.extendleft(reversed([s for s in batch if not s.done]))
    assert all(s.done and s.error is None for s in subs)
    assert len(saves) == 3  # 3 + 3 + 1 joins
    assert app.get_room(room_id)["counts"]["joined"] == 7


def test_a_batch_that_loses_to_another_writer_runs_again_and_saves_each_command_once(app, monkeypatch):
    room_id = app.create_room(KEY, name="raced", persistent=True)["id"]
    real_save = app.save
    lost = []

    def save_losing_once(*objs, **kwargs):
        if not lost:
            lost.append(1)
            # another process wrote first: its event is in the store, ours now conflicts
            app.join(Actor("participant", "other"), room_id, identity="other", role="speaker")
            raise IntegrityError("someone else wrote first")
        return real_save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", save_losing_once)
    monkeypatch.setattr(app, "group_commit", None)  # the nested join saves on its own
    outcomes = batch_of(app, room_id, [joining("a"), joining("b")])
    assert all(isinstance(o, list) for o in outcomes)
    joins = [e["data"]["identity"] for e in app.room_events(room_id) if e["type"] == "ParticipantJoined"]
    assert joins == ["other", "a", "b"]


def test_an_unknown_room_fails_every_command_of_the_batch():
    app = RoomsApplication(env=POPO)
    with pytest.raises(errors.RoomNotFound):
        app.join(Actor("participant", "a"), "00000000-0000-0000-0000-000000000000",
                 identity="a", role="speaker")


def test_group_commit_and_the_room_cache_are_settings():
    assert RoomsApplication(env={**POPO, "DROPON_GROUP_COMMIT": "n"}).group_commit is None
    assert RoomsApplication(env={**POPO, "DROPON_ROOM_CACHE": "0"}).repository.cache is None
    assert RoomsApplication(env=POPO).repository.cache is not None
    with pytest.raises(errors.InvalidArgument):
        RoomsApplication(env={**POPO, "DROPON_GROUP_COMMIT": "maybe"})


def test_readers_and_writers_of_one_cached_room_never_meet_mid_copy():
    """eventsourcing copies a cached room after it releases its fast-forward lock; readers
    and writers of one room at once used to meet there ("dictionary changed size during
    iteration"). Saving each command alone, so that writers fast-forward the cache too."""
    app = RoomsApplication(env={**POPO, "DROPON_GROUP_COMMIT": "n"})
    failures = []
    for _ in range(5):
        room_id = app.create_room(KEY, name="read while written", persistent=True)["id"]
        barrier = threading.Barrier(32)

        def reader():
            barrier.wait()
            for _ in range(20):
                try:
                    app.get_room(room_id)
                except RuntimeError as error:
                    failures.append(error)

        def writer(n):
            barrier.wait()
            for k in range(3):
                try:
                    app.join(Actor("participant", f"u{n}-{k}"), room_id, identity=f"u{n}-{k}",
                             role="speaker")
                except RuntimeError as error:
                    failures.append(error)

        threads = ([threading.Thread(target=reader) for _ in range(24)]
                   + [threading.Thread(target=writer, args=(n,)) for n in range(8)])
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert app.get_room(room_id)["counts"]["joined"] == 24
    assert failures == []
