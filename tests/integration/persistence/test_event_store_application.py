"""An eventsourcing Application on the DynamoDB event store: snapshots and a 64-thread race."""
from __future__ import annotations

import threading
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

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


def test_a_load_reads_the_last_snapshot_and_the_events_after_it(moto_endpoint):
    app = Tallies(env=backend_env(moto_endpoint))
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


@pytest.mark.dynamodb_local
def test_64_threads_saving_to_one_aggregate_lose_nothing_and_repeat_nothing(dynamodb_local_endpoint):
    env = backend_env(dynamodb_local_endpoint, DYNAMODB_MAX_TRANSACTION_ACTIONS="10")
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
                while True:
                    mine = apps[writer % len(apps)]
                    copy = mine.repository.get(tally.id)
                    copy.mark(writer, n)
                    try:
                        recordings = mine.save(copy)
                    except IntegrityError:
                        continue  # another writer took this version: reload and retry
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
