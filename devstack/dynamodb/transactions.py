"""``TransactWriteItems`` on moto that rolls back only what it touched.

moto 5.2's ``transact_write_items`` deep-copies every table a transaction names before it
starts and puts the copies back when an action fails. That makes a transaction cost time
in proportion to the table (5.7 ms at 80 items, 334 ms at 20,000 measured here), and the
put-back undoes whatever other requests wrote meanwhile. This version checks every
condition first and writes nothing unless all hold; when a write itself then fails
(a validation error), it restores the items it wrote, one by one, and the stream records
they added. Isolation from other requests comes from ``server.SerializedApp``.
"""
from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType

OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")


def _key(table, op_type: str, op: dict) -> dict:
    if op_type != "Put":
        return op["Key"]
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


class ItemBackup:
    """One item as it was before a transaction wrote it, and the length of its stream."""

    def __init__(self, table, key: dict):
        self.table = table
        self.hash = DynamoType(key[table.hash_key_attr])
        self.range = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        self.item = copy.deepcopy(table.get_item(self.hash, self.range))
        self.stream_length = len(table.stream_shard.items) if table.stream_shard else 0

    def restore(self) -> None:
        items = self.table.items
        if self.range is None:
            items.pop(self.hash, None)
            if self.item is not None:
                items[self.hash] = self.item
        else:
            items[self.hash].pop(self.range, None)
            if self.item is not None:
                items[self.hash][self.range] = self.item
        if self.table.stream_shard is not None:
            del self.table.stream_shard.items[self.stream_length:]


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """Replacement for ``DynamoDBBackend.transact_write_items``: same errors, same
    cancellation reasons in the same order, item-level rollback."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    actions, seen = [], set()
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        actions.append((op_type, op))
    # phase 1: every condition, nothing written
    errors: list[tuple] = []
    for op_type, op in actions:
        original = None
        try:
            if op_type not in OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table = self.get_table(op["TableName"])
            key = _key(table, op_type, op)
            unique = (op["TableName"], str(dict(sorted(key.items()))))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            condition = op.get("ConditionExpression")
            if condition is not None:
                current = self.get_item(op["TableName"], key)
                check = get_filter_expression(condition, op.get("ExpressionAttributeNames"),
                                              op.get("ExpressionAttributeValues"))
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original))
        except Exception as e:  # noqa: BLE001 - reported as moto reports it, per action
            errors.append((type(e).__name__, str(e), None))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    # phase 2: the writes, each undone if a later one fails
    backups: list[ItemBackup] = []
    try:
        for op_type, op in actions:
            if op_type == "ConditionCheck":
                continue
            name = op["TableName"]
            table = self.get_table(name)
            key = _key(table, op_type, op)
            backups.append(ItemBackup(table, key))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            # conditions held in phase 1 and nothing ran in between (one request at a time)
            if op_type == "Put":
                self.put_item(name, op["Item"], expression_attribute_names=names,
                              expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(name, key, expression_attribute_names=names,
                                 expression_attribute_values=values)
            else:
                self.update_item(name, key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names,
                                 expression_attribute_values=values)
    except Exception:
        for backup in reversed(backups):
            backup.restore()
        raise


def install() -> None:
    """Use :func:`transact_write_items` in every moto DynamoDB backend of this process."""
    DynamoDBBackend.transact_write_items = transact_write_items
