"""A sharded notification log under concurrent saves from several processes."""
from __future__ import annotations

import threading
from uuid import UUID

import pytest
from eventsourcing.application import Application

from .cases import backend_env
from .test_event_store_application import Tally



def test_each_shard_stays_gap_free_in_commit_order_under_concurrent_saves(dynamodb_endpoint):
    env = backend_env(dynamodb_endpoint,
                      DYNAMODB_NOTIFICATION_SHARDS="4")
    apps = [Application[UUID](env=env) for _ in range(4)]  # four processes
    acked: list[tuple[UUID, int, int]] = []  # room, version, notification id
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            app, tally = apps[k % len(apps)], Tally()
            for n in range(3):
                tally.mark(k, n)
                for r in app.save(tally):
                    acked.append((r.domain_event.originator_id, r.domain_event.originator_version,
                                  r.notification.id))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]

    recorder = apps[0].recorder
    stored = []
    for shard in range(4):
        notes = recorder.for_shard(shard).select_notifications(None, 1000)
        assert [n.id for n in notes] == list(range(1, len(notes) + 1))
        assert all(recorder.shard_of(n.originator_id) == shard for n in notes)
        versions: dict[UUID, int] = {}
        for n in notes:  # within a shard, a room's events are in version order
            assert n.originator_version == versions.get(n.originator_id, 0) + 1
            versions[n.originator_id] = n.originator_version
        stored += [(n.originator_id, n.originator_version, n.id) for n in notes]
    assert sorted(stored) == sorted(acked)
    assert len(acked) == 16 * 4
