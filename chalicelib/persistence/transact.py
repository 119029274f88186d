"""Atomic writes: one DynamoDB transaction, checked against its limits before it is sent."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import OperationalError
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from .errors import TransactionTooLargeError

MAX_ACTIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
# cancellation reasons worth another attempt: nothing was written, nothing conflicted
RETRYABLE = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


@dataclass
class Write:
    """One action of a transaction: a conditional put, or an update when ``actions`` is set."""

    kind: str  # "event", "notification" or "tracking": how a failed condition is read
    model: Model
    condition: Condition
    size: int
    actions: list[Any] | None = field(default=None)


class Cancelled(Exception):
    """The transaction was cancelled; nothing of it was written."""

    def __init__(self, failed: set[str], conflict: bool, cause: Exception):
        super().__init__(f"transaction cancelled (failed conditions: {sorted(failed)}, "
                         f"conflict: {conflict}): {cause}")
        self.failed, self.conflict = failed, conflict


def check_limits(writes: list[Write]) -> None:
    """Refuse a transaction DynamoDB would refuse, before anything is sent."""
    if len(writes) > MAX_ACTIONS:
        raise TransactionTooLargeError(
            f"this save needs {len(writes)} DynamoDB transaction actions "
            f"(two per event, one per tracking position); the limit is {MAX_ACTIONS}")
    total = sum(w.size for w in writes)
    if total > MAX_TRANSACTION_BYTES:
        raise TransactionTooLargeError(
            f"this save needs {total} bytes in one DynamoDB transaction; "
            f"the limit is {MAX_TRANSACTION_BYTES}")


def transact(connection: Connection, writes: list[Write]) -> None:
    """Commit ``writes`` in one TransactWriteItems call, or raise :class:`Cancelled`."""
    check_limits(writes)
    puts = [w for w in writes if w.actions is None]
    updates = [w for w in writes if w.actions is not None]
    try:
        # botocore gives each call a ClientRequestToken and keeps it across its own
        # retries, so a retry after a lost response is answered as the success it was
        with TransactWrite(connection=connection) as tx:
            for w in puts:
                tx.save(w.model, condition=w.condition)
            for w in updates:
                tx.update(w.model, actions=w.actions, condition=w.condition)
    except TransactWriteError as e:
        if e.cause_response_code == "ValidationException" and "length less than" in str(e.cause):
            # a DynamoDB with a lower action limit than configured: still nothing written
            raise TransactionTooLargeError(
                f"DynamoDB refused a transaction of {len(writes)} actions ({e.cause})") from e
        if e.cause_response_code != "TransactionCanceledException":
            raise OperationalError(f"DynamoDB transaction failed: {e.cause or e}") from e
        # pynamodb sends puts before updates, and the reasons follow that wire order
        reasons = e.cancellation_reasons or []
        codes = [(w.kind, r.code if r else "None") for w, r in zip(puts + updates, reasons)]
        failed = {kind for kind, code in codes if code == "ConditionalCheckFailed"}
        conflict = any(code in RETRYABLE for _, code in codes)
        if not failed and not conflict:
            raise OperationalError(f"DynamoDB transaction cancelled: {e.cause or e}") from e
        raise Cancelled(failed, conflict, e) from e
