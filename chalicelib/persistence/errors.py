"""Errors of the event store, raised before anything is written."""
from __future__ import annotations

from eventsourcing.persistence import DataError


class ItemTooLargeError(DataError):
    """A stored event (or snapshot) would not fit in one DynamoDB item (400 KB)."""

    code = "event_too_large"

    def __init__(self, originator_id: object, version: int, size: int, limit: int):
        super().__init__(
            f"event {originator_id} v{version} needs an item of {size} bytes; "
            f"DynamoDB items are limited to {limit} bytes. Nothing was written."
        )
        self.originator_id, self.version, self.size = originator_id, version, size


class TransactionTooLargeError(DataError):
    """A save would exceed DynamoDB's limits for one transaction (actions or bytes)."""

    code = "save_too_large"

    def __init__(self, detail: str):
        super().__init__(f"{detail}. Nothing was written; save fewer events at once.")
