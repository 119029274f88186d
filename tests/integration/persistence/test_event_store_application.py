"""An eventsourcing Application on the DynamoDB event store: snapshots and a 64-thread race."""
from __future__ import annotations

import random
import threading
import time
from functools import singledispatchmethod
from uuid import UUID

import pytest
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import EventSourcedProjection, EventSourcedProjectionRunner

from .cases import backend_env


class Tally(Aggregate):
    """A test aggregate: every mark is one event."""

    def __init__(self) -> None:
        self.marks: list[list[int]] = []  # lists: a snapshot's JSON has no tuples

    @event("Marked")
    def mark(self, writer: int, n: int) -> None:
        self.marks.append([writer, n])


class Tallies(Application[UUID]):
    snapshotting_intervals = {Tally: 10}


class CountingReads:
    """Wraps a recorder's select_events to count the events a load reads."""

    def __init__(self, recorder):
        self.recorder, self.read = recorder, 0
        self._select = recorder.select_events
        recorder.select_events = self

    def __call__(self, *args, **kwargs):
        found = self._select(*args, **kwargs)
        self.read += len(found)
        return found


def test_a_load_reads_the_last_snapshot_and_the_events_after_it(dynamodb_endpoint):
    app = Tallies(env=backend_env(dynamodb_endpoint))
    tally = Tally()
    app.save(tally)
    for n in range(34):
        tally.mark(0, n)
        app.save(tally)
    assert tally.version == 35
    events, snapshots = CountingReads(app.events.recorder), CountingReads(app.snapshots.recorder)
    copy = app.repository.get(tally.id)
    assert copy.marks == tally.marks
    assert snapshots.read == 1  # the snapshot at version 30
    assert events.read == 5  # versions 31..35
    # any past version is still there, from the events alone
    assert app.repository.get(tally.id, version=7).marks == tally.marks[:6]


def test_64_threads_saving_to_one_aggregate_lose_nothing_and_repeat_nothing(dynamodb_endpoint):
    env = backend_env(dynamodb_endpoint)
    # 8 applications on the same tables stand for 8 processes (Lambda containers):
    # within one, saves queue for the log; between them, DynamoDB's conditions decide
    apps = [Application[UUID](env=env) for _ in range(8)]
    app = apps[0]
    tally = Tally()
    app.save(tally)
    writers, saves_each = 64, 1
    acked: list[tuple[int, int, int, int]] = []  # writer, n, version, notification id
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        try:
            start.wait()
            for n in range(saves_each):
                for attempt in range(1000):
                    mine = apps[writer % len(apps)]
                    copy = mine.repository.get(tally.id)
                    copy.mark(writer, n)
                    try:
                        recordings = mine.save(copy)
                    except IntegrityError:
                        # another writer took this version: back off, reload, retry
                        time.sleep(random.uniform(0, min(1.0, 0.01 * 2 ** attempt)))
                        continue
                    (r,) = recordings
                    acked.append((writer, n, r.domain_event.originator_version, r.notification.id))
                    break
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    total = 1 + writers * saves_each
    assert len(acked) == writers * saves_each

    stored = app.events.recorder.select_events(tally.id)
    assert [e.originator_version for e in stored] == list(range(1, total + 1))
    final = app.repository.get(tally.id)
    assert sorted(final.marks) == sorted([w, n] for w, n, _, _ in acked)
    assert len({tuple(m) for m in final.marks}) == len(final.marks)  # stored exactly once
    by_version = {v: [w, n] for w, n, v, _ in acked}
    assert [by_version[v] for v in range(2, total + 1)] == final.marks

    notes = app.recorder.select_notifications(None, total + 10)
    assert [n.id for n in notes] == list(range(1, total + 1))
    assert sorted(nid for *_, nid in acked) == list(range(2, total + 1))
    assert {(n.id, n.originator_version) for n in notes if n.id > 1} == {(nid, v) for _, _, v, nid in acked}


class Upstream(Application[UUID]):
    pass


class Seen(Aggregate):
    """What the projection records for each mark it processes."""

    def __init__(self, tally_id: UUID, version: int) -> None:
        self.tally_id, self.version_seen = tally_id, version


class MarksSeen(EventSourcedProjection[UUID]):
    @singledispatchmethod
    def policy(self, domain_event, processing_event) -> None:
        """Other events are tracked and otherwise ignored."""

    @policy.register
    def _(self, domain_event: Tally.Marked, processing_event: ProcessingEvent) -> None:
        processing_event.collect_events(Seen(domain_event.originator_id, domain_event.originator_version))


def test_a_process_application_processes_each_notification_once(dynamodb_endpoint):
    env = backend_env(dynamodb_endpoint,
                      DYNAMODB_POLL_INTERVAL="0.05")

    def run(marks: int) -> tuple[int, MarksSeen]:
        with EventSourcedProjectionRunner(application_class=Upstream, projection_class=MarksSeen,
                                          env=env) as runner:
            tally = Tally()
            for n in range(marks):
                tally.mark(0, n)
            last = runner.app.save(tally)[-1].notification.id
            runner.wait(last, timeout=20)
            return last, runner.projection

    first_last, projection = run(3)
    assert projection.recorder.max_tracking_id("Upstream") == first_last == 4
    # a restarted runner resumes from its tracked position: nothing processed twice
    second_last, projection = run(2)
    assert projection.recorder.max_tracking_id("Upstream") == second_last == 7
    seen = projection.recorder.select_notifications(None, 100)
    assert [n.id for n in seen] == [1, 2, 3, 4, 5]
    # processing a notification again is refused atomically: no event, no move
    upstream = Upstream(env=env)
    (again,) = upstream.recorder.select_notifications(2, 1)
    with pytest.raises(IntegrityError):
        projection.process_event(upstream.mapper.to_domain_event(again), Tracking("Upstream", 2))
    assert projection.recorder.max_notification_id() == 5
    assert projection.recorder.max_tracking_id("Upstream") == 7
