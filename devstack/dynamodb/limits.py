"""DynamoDB's size limits, which moto does not enforce on writes: 400 KB an item,
4 MB a transaction. A request over either is refused whole, as AWS refuses it."""
from __future__ import annotations

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.utilities import bytesize

MAX_ITEM_BYTES = 400 * 1024
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024


class LimitExceeded(Exception):
    """A ``ValidationException`` with DynamoDB's own message."""


def item_size(attributes: dict) -> int:
    """DynamoDB's size of an item: each attribute's UTF-8 name plus its value."""
    return sum(bytesize(name) + DynamoType(value).size() for name, value in attributes.items())


def _checked(attributes: dict) -> int:
    size = item_size(attributes)
    if size > MAX_ITEM_BYTES:
        raise LimitExceeded("Item size has exceeded the maximum allowed size")
    return size


def check(action: str, body: dict) -> None:
    """Raise :class:`LimitExceeded` if ``body`` of ``action`` is over a limit."""
    if action == "PutItem":
        _checked(body.get("Item") or {})
    elif action == "BatchWriteItem":
        for requests in (body.get("RequestItems") or {}).values():
            for request in requests:
                _checked((request.get("PutRequest") or {}).get("Item") or {})
    elif action == "TransactWriteItems":
        total = 0
        for entry in body.get("TransactItems") or []:
            for op_type, op in entry.items():
                if op_type == "Put":
                    total += _checked(op.get("Item") or {})
                else:  # keys, and the values an update or condition brings
                    total += item_size(op.get("Key") or {})
                    total += item_size(op.get("ExpressionAttributeValues") or {})
        if total > MAX_TRANSACTION_BYTES:
            raise LimitExceeded("Transaction request cannot be larger than 4 MB")
