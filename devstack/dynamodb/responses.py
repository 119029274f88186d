"""DynamoDB's answers written with ``json.dumps`` instead of moto's generic serializer.

moto 5.2 writes every answer by walking botocore's output shape, attribute by attribute
(``moto/core/serialize.py``): about 0.7 ms of CPU per item of a ``Query`` here, so a
read of a room's 64 sockets cost 46 ms in the server, the largest part of a real-time
event's delivery (``bench/events.py``). A DynamoDB result is already DynamoDB's JSON
(``DynamoResult`` turns moto's types into ``{"S": ...}`` dicts; numbers are strings), so
for the item-carrying actions the shape walk changes nothing: this writes the same
document directly. Any other action, an error, or a result the fast path cannot write
as is (a key the shape does not know, a type JSON lacks) goes through moto's serializer
as before. Binary values are base64, as moto's serializer writes them.
``verify`` writes both and raises on any difference (``tests/integration`` runs it).
"""
from __future__ import annotations

import base64
import json

from moto.dynamodb.responses import DynamoResult

CONTENT_TYPE = "application/x-amz-json-1.0"
# the actions whose results are items, and the keys their output shapes have
FAST = {
    "Query": {"Items", "Count", "ScannedCount", "LastEvaluatedKey", "ConsumedCapacity"},
    "Scan": {"Items", "Count", "ScannedCount", "LastEvaluatedKey", "ConsumedCapacity"},
    "GetItem": {"Item", "ConsumedCapacity"},
    "BatchGetItem": {"Responses", "UnprocessedKeys", "ConsumedCapacity"},
    "PutItem": {"Attributes", "ConsumedCapacity", "ItemCollectionMetrics"},
    "BatchWriteItem": {"UnprocessedItems", "ItemCollectionMetrics", "ConsumedCapacity"},
}
_serialize = DynamoResult.execute_result


def install(verify: bool = False) -> None:
    """Answer the item-carrying actions with ``json.dumps`` (``verify``: and check each
    answer against moto's own)."""
    def execute_result(self, context):
        fast = _fast(self.result, context.operation_model.name)
        if fast is None:
            return _serialize(self, context)
        if verify:
            status, headers, body = _serialize(self, context)
            if (status, json.loads(body)) != (200, json.loads(fast)) \
                    or headers.get("Content-Type") != CONTENT_TYPE:
                raise AssertionError(f"fast answer differs from moto's: {fast[:300]} "
                                     f"against {body[:300]}")
        return 200, {"Content-Type": CONTENT_TYPE}, fast

    DynamoResult.execute_result = execute_result


def _fast(result, action: str) -> str | None:
    keys = FAST.get(action)
    if keys is None or not isinstance(result, dict) or not set(result) <= keys:
        return None
    try:  # the shape walk leaves out members that are None
        return json.dumps({k: v for k, v in result.items() if v is not None}, default=_blob)
    except TypeError:  # a type the shape walk converts and this does not
        return None


def _blob(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)
