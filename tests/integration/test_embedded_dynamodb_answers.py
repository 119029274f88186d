"""The embedded DynamoDB's fast answers (``devstack/dynamodb/responses.py``) are moto's
own, document for document: every item-carrying action on items of every attribute
type, answered by the app in this process with ``verify`` on (both writers run, and any
difference raises)."""
from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from devstack.dynamodb import responses
from devstack.dynamodb.server import SerializedApp

AUTH = ("AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0")
ITEM = {"pk": {"S": "a"}, "n": {"N": "1.5"}, "b": {"B": "AAEC/w=="}, "bs": {"BS": ["AA==", "AQ=="]},
        "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]}, "m": {"M": {"k": {"BOOL": True}}},
        "l": {"L": [{"NULL": True}, {"S": "é"}]}, "room": {"S": "r1"}}


@pytest.fixture(scope="module")
def call():
    app = SerializedApp()
    responses.install(verify=True)
    client = Client(app)

    def call(action: str, body: dict) -> dict:
        answer = client.post("/", data=json.dumps(body), headers={
            "X-Amz-Target": "DynamoDB_20120810." + action, "Authorization": AUTH,
            "Content-Type": "application/x-amz-json-1.0"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return json.loads(answer.get_data())

    call("CreateTable", {
        "TableName": "t", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "room", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [{"IndexName": "room", "Projection": {"ProjectionType": "ALL"},
                                    "KeySchema": [{"AttributeName": "room", "KeyType": "HASH"}]}]})
    yield call
    responses.install(verify=False)


def test_every_item_carrying_action_answers_as_moto_does(call):
    put = call("PutItem", {"TableName": "t", "Item": ITEM, "ReturnValues": "ALL_OLD",
                           "ReturnConsumedCapacity": "TOTAL"})
    assert put["ConsumedCapacity"]["TableName"] == "t"
    call("BatchWriteItem", {"RequestItems": {"t": [
        {"PutRequest": {"Item": {**ITEM, "pk": {"S": f"b{i}"}}}} for i in range(25)]}})
    again = call("PutItem", {"TableName": "t", "Item": ITEM, "ReturnValues": "ALL_OLD"})
    assert again["Attributes"] == ITEM
    assert call("GetItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}})["Item"] == ITEM
    page = call("Query", {"TableName": "t", "IndexName": "room", "Limit": 10,
                          "KeyConditionExpression": "room = :r",
                          "ExpressionAttributeValues": {":r": {"S": "r1"}}})
    assert page["Count"] == 10 and "LastEvaluatedKey" in page
    assert call("Scan", {"TableName": "t"})["Count"] == 26
    got = call("BatchGetItem", {"RequestItems": {"t": {"Keys": [{"pk": {"S": "a"}}]}}})
    assert got["Responses"]["t"] == [ITEM]


def test_the_fast_writer_leaves_to_moto_what_it_cannot_write_as_is():
    assert responses._fast({"Items": [], "Count": 0}, "Query") == '{"Items": [], "Count": 0}'
    assert responses._fast({"Items": [], "Other": 1}, "Query") is None  # not in the shape
    assert responses._fast({"TableDescription": {}}, "CreateTable") is None
    assert responses._fast({"Item": {"b": {"B": b"\x00\x01"}}}, "GetItem") == \
        '{"Item": {"b": {"B": "AAE="}}}'
