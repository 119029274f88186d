"""What the library's cases do not cover: DynamoDB's limits, atomicity, settings, shards."""
from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    ProgrammingError,
    StoredEvent,
    Tracking,
)

from chalicelib.persistence.dynamodb import ItemTooLargeError, TransactionTooLargeError
from chalicelib.persistence.items import MAX_ITEM_BYTES

from .cases import backend_env


@pytest.fixture
def make_factory(dynamodb_endpoint):
    def make(**extra):
        return InfrastructureFactory.construct(backend_env(dynamodb_endpoint, **extra))
    return make


def events(originator_id, versions, state=b"{}"):
    return [StoredEvent(originator_id, v, "topic", state) for v in versions]


def test_an_event_too_large_for_an_item_is_refused_and_nothing_is_written(make_factory):
    recorder = make_factory().application_recorder()
    room = uuid4()
    big = b"x" * MAX_ITEM_BYTES
    with pytest.raises(ItemTooLargeError, match="400 KB|409600"):
        recorder.insert_events(events(room, [1]) + events(room, [2], state=big))
    assert recorder.select_events(room) == []
    assert recorder.max_notification_id() is None


def test_a_snapshot_too_large_for_an_item_is_refused(make_factory):
    recorder = make_factory().aggregate_recorder(purpose="snapshots")
    with pytest.raises(ItemTooLargeError):
        recorder.insert_events(events(uuid4(), [1], state=b"x" * MAX_ITEM_BYTES))


def test_a_save_over_the_transaction_limit_is_refused_whole(make_factory):
    recorder = make_factory().application_recorder()
    room = uuid4()
    with pytest.raises(TransactionTooLargeError, match="102 DynamoDB transaction actions"):
        recorder.insert_events(events(room, range(1, 52)))
    assert recorder.select_events(room) == []
    assert recorder.insert_events(events(room, range(1, 51))) == list(range(1, 51))


def test_a_save_over_four_megabytes_is_refused_whole(make_factory):
    recorder = make_factory().application_recorder()
    room = uuid4()
    with pytest.raises(TransactionTooLargeError, match="bytes in one DynamoDB transaction"):
        recorder.insert_events(events(room, range(1, 7), state=b"x" * 350_000))
    assert recorder.select_events(room) == []


def test_tracking_counts_against_the_transaction_limit(make_factory):
    recorder = make_factory().process_recorder()
    with pytest.raises(TransactionTooLargeError, match="101"):
        recorder.insert_events(events(uuid4(), range(1, 51)), tracking=Tracking("upstream", 1))
    assert recorder.max_tracking_id("upstream") is None


def test_a_conflicting_save_writes_nothing_and_consumes_no_notification_id(make_factory):
    recorder = make_factory().application_recorder()
    room, other = uuid4(), uuid4()
    assert recorder.insert_events(events(room, [1])) == [1]
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(other, [1]) + events(room, [1]))
    assert recorder.select_events(other) == []
    assert recorder.insert_events(events(other, [1])) == [2]
    assert [n.id for n in recorder.select_notifications(None, 10)] == [1, 2]


def test_a_second_process_continues_the_log_without_a_gap(make_factory, dynamodb_endpoint):
    env = backend_env(dynamodb_endpoint)
    first = InfrastructureFactory.construct(env).application_recorder()
    second = InfrastructureFactory.construct(env).application_recorder()
    assert first.insert_events(events(uuid4(), [1])) == [1]
    assert second.insert_events(events(uuid4(), [1])) == [2]
    # first's idea of the log's end is stale: its save loses the race and retries
    assert first.insert_events(events(uuid4(), [1, 2])) == [3, 4]


def test_sharded_log_numbers_each_shard_gap_free(make_factory):
    recorder = make_factory(DYNAMODB_NOTIFICATION_SHARDS="4").application_recorder()
    rooms = [uuid4() for _ in range(12)]
    for room in rooms:
        recorder.insert_events(events(room, [1, 2]))
    with pytest.raises(ProgrammingError, match="4 shards"):
        recorder.select_notifications(None, 10)
    seen = []
    for shard in range(4):
        log = recorder.for_shard(shard)
        notes = log.select_notifications(None, 100)
        assert [n.id for n in notes] == list(range(1, len(notes) + 1))
        assert log.max_notification_id() == (len(notes) or None)
        assert {recorder.shard_of(n.originator_id) for n in notes} <= {shard}
        seen += [(n.originator_id, n.originator_version) for n in notes]
    assert sorted(seen) == sorted((r, v) for r in rooms for v in (1, 2))
    assert len({recorder.shard_of(r) for r in rooms}) > 1


def test_settings_come_from_the_environment_and_may_carry_the_app_name(dynamodb_endpoint):
    env = backend_env(dynamodb_endpoint)
    prefix = env.pop("DYNAMODB_TABLE_PREFIX")
    with pytest.raises(OSError, match="DYNAMODB_TABLE_PREFIX"):
        InfrastructureFactory.construct(env)
    from eventsourcing.utils import Environment
    factory = InfrastructureFactory.construct(
        Environment("Rooms", {**env, "ROOMS_DYNAMODB_TABLE_PREFIX": prefix}))
    recorder = factory.application_recorder()
    assert recorder.events.Meta.table_name == f"{prefix}-rooms-events"
    assert recorder.notifications.Meta.table_name == f"{prefix}-rooms-notifications"
    assert recorder.events.Meta.host == dynamodb_endpoint


def test_create_table_off_creates_nothing(make_factory):
    recorder = make_factory(CREATE_TABLE="n").application_recorder()
    assert not recorder.events.exists()
    assert not recorder.notifications.exists()
