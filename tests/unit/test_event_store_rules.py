"""The event store's rules that need no DynamoDB: sizes, limits, settings, shards."""
from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.utils import Environment

from chalicelib.persistence.errors import TransactionTooLargeError
from chalicelib.persistence.items import item_size
from chalicelib.persistence.settings import DynamoDBSettings
from chalicelib.persistence.transact import Write, check_limits


def test_item_size_counts_names_and_values_as_dynamodb_does():
    assert item_size({"i": "abc", "s": b"\x00" * 10}) == 1 + 3 + 1 + 10
    assert item_size({"t": "é"}) == 1 + 2  # UTF-8 bytes
    assert item_size({"v": 1}) == 1 + 2  # one significant digit: 1 byte + 1
    assert item_size({"v": 12345678}) == 1 + 5  # eight digits: 4 bytes + 1
    assert item_size({"v": 1000}) == 1 + 2  # trailing zeros are not significant


def writes(n: int, size: int = 100) -> list[Write]:
    return [Write("event", None, None, size) for _ in range(n)]


def test_a_transaction_over_the_action_limit_is_refused():
    check_limits(writes(100))
    with pytest.raises(TransactionTooLargeError, match="101 DynamoDB transaction actions"):
        check_limits(writes(101))


def test_a_transaction_over_four_megabytes_is_refused():
    check_limits(writes(10, 400 * 1024))
    with pytest.raises(TransactionTooLargeError, match="bytes in one DynamoDB transaction"):
        check_limits(writes(11, 400 * 1024))


def settings(**env: str) -> DynamoDBSettings:
    return DynamoDBSettings.from_env(Environment("Rooms", env))


def test_settings_need_a_table_prefix_and_read_the_app_prefixed_key_first():
    with pytest.raises(OSError, match="ROOMS_DYNAMODB_TABLE_PREFIX"):
        settings()
    s = settings(DYNAMODB_TABLE_PREFIX="a", ROOMS_DYNAMODB_TABLE_PREFIX="b")
    assert s.table_name("Rooms", "events") == "b-rooms-events"
    assert s.table_name("", "events") == "b-stored-events"


@pytest.mark.parametrize("key, value", [
    ("DYNAMODB_NOTIFICATION_SHARDS", "0"),
    ("DYNAMODB_NOTIFICATION_SHARDS", "many"),
    ("ORIGINATOR_ID_TYPE", "int"),
])
def test_bad_settings_are_refused_with_their_name(key, value):
    with pytest.raises(OSError, match=key):
        settings(DYNAMODB_TABLE_PREFIX="p", **{key: value})


def test_endpoint_and_region_come_from_the_environment():
    s = settings(DYNAMODB_TABLE_PREFIX="p", AWS_ENDPOINT_URL="http://127.0.0.1:1",
                 AWS_REGION="eu-west-1")
    assert (s.endpoint.host, s.endpoint.region) == ("http://127.0.0.1:1", "eu-west-1")
    with pytest.raises(OSError, match="invalid DynamoDB table name"):
        settings(DYNAMODB_TABLE_PREFIX="bad prefix").table_name("Rooms", "events")


def test_an_aggregate_always_maps_to_the_same_shard():
    from chalicelib.persistence.application import DynamoDBApplicationRecorder
    from chalicelib.persistence.datastore import DynamoDBDatastore
    store = DynamoDBDatastore(settings(DYNAMODB_TABLE_PREFIX="p",
                                       DYNAMODB_NOTIFICATION_SHARDS="8"), "Rooms")
    recorder = DynamoDBApplicationRecorder(store)  # builds models only, sends nothing
    ids = [uuid4() for _ in range(200)]
    shards = [recorder.shard_of(i) for i in ids]
    assert shards == [recorder.shard_of(str(i)) for i in ids]
    assert set(shards) == set(range(8))
