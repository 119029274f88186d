"""The embedded DynamoDB (``python -m devstack.dynamodb``): isolation, limits, rollback,
durability across ``kill -9``, all through boto3 against the real server process."""
from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from uuid import uuid4

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.application import RoomsApplication
from chalicelib.domain import Actor
from devstack.dynamodb import embedded_dynamodb, endpoint

ADMIN = Actor("api_key", "test")


def client(url: str):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        config=Config(max_pool_connections=64, retries={"max_attempts": 1}))


def table(ddb, range_key: bool = False) -> str:
    name = f"t{uuid4().hex[:10]}"
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attrs,
                     BillingMode="PAY_PER_REQUEST")
    return name


def claim_next(ddb, name: str, writer: int) -> int | None:
    """Take the next id: read the counter, then in one transaction move it on (if nobody
    else did) and write the id's item (if nobody wrote it). None when the race was lost."""
    counter = ddb.get_item(TableName=name, Key={"pk": {"S": "counter"}}, ConsistentRead=True)
    seen = int(counter.get("Item", {}).get("n", {"N": "0"})["N"])
    try:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": name, "Key": {"pk": {"S": "counter"}},
                        "UpdateExpression": "SET n = :next",
                        "ConditionExpression": "attribute_not_exists(n) OR n = :seen",
                        "ExpressionAttributeValues": {":next": {"N": str(seen + 1)},
                                                      ":seen": {"N": str(seen)}}}},
            {"Put": {"TableName": name, "Item": {"pk": {"S": f"id-{seen + 1}"},
                                                  "writer": {"N": str(writer)}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    except ClientError as error:
        assert error.response["Error"]["Code"] == "TransactionCanceledException", error
        return None
    return seen + 1


def test_concurrent_conditional_transactions_lose_nothing_and_double_nothing(dynamodb_endpoint):
    """32 threads race for ids (plain moto doubles ids and loses acknowledged writes here)."""
    ddb = client(dynamodb_endpoint)
    name = table(ddb)

    def writer(number: int) -> list[int]:
        return [i for i in (claim_next(ddb, name, number) for _ in range(25)) if i is not None]

    with ThreadPoolExecutor(32) as pool:
        claimed = [(w, i) for w, ids in zip(range(32), pool.map(writer, range(32))) for i in ids]
    ids = sorted(i for _, i in claimed)
    assert len(ids) == len(set(ids)), "an id was acknowledged twice"
    assert ids == list(range(1, len(ids) + 1)), "the acknowledged ids have a gap"
    items = ddb.scan(TableName=name, ConsistentRead=True)["Items"]
    stored = {it["pk"]["S"]: int(it["writer"]["N"]) for it in items if it["pk"]["S"] != "counter"}
    assert stored == {f"id-{i}": w for w, i in claimed}, "an acknowledged write was lost"
    counter = [it for it in items if it["pk"]["S"] == "counter"][0]
    assert int(counter["n"]["N"]) == len(ids)


def test_a_transaction_that_fails_while_writing_leaves_every_item_as_it_was(dynamodb_endpoint):
    ddb = client(dynamodb_endpoint)
    name = table(ddb, range_key=True)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "old"}})
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "a"}, "sk": {"N": "1"},
                                                  "v": {"S": "new"}}}},
            {"Put": {"TableName": name, "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}}}},
            # passes every condition, then fails as it writes: adding a number to a string
            {"Update": {"TableName": name, "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}},
                        "UpdateExpression": "SET v = :s ADD v :one",
                        "ExpressionAttributeValues": {":s": {"S": "x"}, ":one": {"N": "1"}}}},
        ])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    items = ddb.scan(TableName=name)["Items"]
    assert items == [{"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "old"}}]


def test_dynamodb_size_limits_are_enforced_and_nothing_of_a_refused_request_is_written(
        dynamodb_endpoint):
    ddb = client(dynamodb_endpoint)
    name = table(ddb)
    with pytest.raises(ClientError, match="Item size has exceeded"):
        ddb.put_item(TableName=name, Item={"pk": {"S": "big"}, "d": {"S": "x" * (400 * 1024)}})
    # an item under 400 KB is fine (moto itself refuses past 405,000 bytes)
    under = "x" * 399_000
    ddb.put_item(TableName=name, Item={"pk": {"S": "fits"}, "d": {"S": under}})
    # 11 items of 399 KB: each is allowed, together they pass 4 MB
    puts = [{"Put": {"TableName": name, "Item": {"pk": {"S": f"p{i}"}, "d": {"S": under}}}}
            for i in range(11)]
    with pytest.raises(ClientError, match="cannot be larger than 4 MB"):
        ddb.transact_write_items(TransactItems=puts)
    with pytest.raises(ClientError) as too_many:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": f"n{i}"}}}} for i in range(101)])
    assert too_many.value.response["Error"]["Code"] == "ValidationException"
    assert [it["pk"]["S"] for it in ddb.scan(TableName=name)["Items"]] == ["fits"]
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {"pk": {"S": f"n{i}"}}}} for i in range(100)])
    assert ddb.describe_table(TableName=name)["Table"]["ItemCount"] in (0, 101)  # moto lags
    assert len(ddb.scan(TableName=name)["Items"]) == 101


def test_a_repeated_client_request_token_is_applied_once(dynamodb_endpoint):
    ddb = client(dynamodb_endpoint)
    name = table(ddb)
    put = [{"Put": {"TableName": name, "Item": {"pk": {"S": "once"}},
                    "ConditionExpression": "attribute_not_exists(pk)"}}]
    ddb.transact_write_items(TransactItems=put, ClientRequestToken="t-1")
    ddb.transact_write_items(TransactItems=put, ClientRequestToken="t-1")  # a resend: no conflict
    with pytest.raises(ClientError) as mismatch:
        ddb.transact_write_items(TransactItems=put[:0] + [
            {"Put": {"TableName": name, "Item": {"pk": {"S": "other"}}}}], ClientRequestToken="t-1")
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ddb.transact_write_items(TransactItems=put, ClientRequestToken="t-2")


@pytest.mark.parametrize("snapshot_every", ["100000", "7"], ids=["journal", "snapshot+journal"])
def test_every_acknowledged_room_survives_kill_9(tmp_path, snapshot_every):
    """Rooms written through the real application, the server killed with SIGKILL
    mid-stream, restarted on the same folder: every acknowledged room and event is there."""
    server = embedded_dynamodb(None, tmp_path, tmp_path / "1.log",
                               "--snapshot-every", snapshot_every).start()
    env = {"PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb", "CREATE_TABLE": "y",
           "DYNAMODB_TABLE_PREFIX": "durable", "AWS_ENDPOINT_URL": endpoint(server),
           "AWS_REGION": "us-east-1"}
    app = RoomsApplication(env=env)
    rooms = []
    for i in range(12):
        room = app.create_room(ADMIN, name=f"room {i}", persistent=True)
        app.update_policy(ADMIN, room["id"], {"maxParticipants": 10 + i})
        rooms.append(app.get_room(room["id"]))
    app.close()
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    assert (tmp_path / "journal.jsonl").exists()
    restarted = embedded_dynamodb(server.port, tmp_path, tmp_path / "2.log").start()
    try:
        app = RoomsApplication(env=env)
        for before in rooms:
            after = app.get_room(before["id"])
            assert after == before
            assert [e["type"] for e in app.room_events(before["id"])] == ["RoomCreated", "PolicyChanged"]
        rooms_listed, _ = app.list_rooms(limit=100)
        assert [r["id"] for r in rooms_listed] == [r["id"] for r in rooms]
        app.close()
    finally:
        restarted.stop()
    log = (tmp_path / "2.log").read_text()
    assert "recovered" in log
    if snapshot_every == "7":
        assert "'snapshotSeq': 0" not in log  # it did start from a snapshot
