"""Aggregate recorder: each aggregate's events are one partition, sorted by version."""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import AggregateRecorder, IntegrityError, StoredEvent

from .errors import ItemTooLargeError
from .items import MAX_ITEM_BYTES, EventItem, item_size
from .transact import Cancelled, Write, transact

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from .datastore import DynamoDBDatastore


class DynamoDBAggregateRecorder(AggregateRecorder):
    """Events (or, with ``purpose="snapshots"``, snapshots) of aggregates.

    A version that already exists is refused by a DynamoDB condition, never overwritten.
    """

    def __init__(self, datastore: DynamoDBDatastore, purpose: str = "events"):
        self.datastore = datastore
        self.events = datastore.model(EventItem, purpose)

    def create_table(self) -> None:
        self.datastore.create_table(self.events)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        self._insert_events(stored_events, **kwargs)
        return None

    def _insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        extra = self._extra_writes(**kwargs)
        if not stored_events and not extra:
            return []
        events = self._event_writes(stored_events)
        with self._writing(stored_events):
            return self._commit_with_retries(stored_events, events, extra)

    def _commit_with_retries(self, stored_events: Sequence[StoredEvent], events: list[Write],
                             extra: list[Write]) -> list[int]:
        attempt = 0
        while True:
            ids, notifications = self._notification_writes(stored_events)
            try:
                self._commit(events + notifications + extra)
            except Cancelled as c:
                if c.failed & {"event", "tracking"}:
                    raise IntegrityError(self._conflict_message(stored_events, c)) from c
                # lost a race for notification ids, or a concurrent transaction
                # touched the same item: read the log's end again and retry
                self._forget_positions()
                attempt += 1
                self.datastore.backoff(attempt, str(c))
                continue
            self._remember_positions(stored_events, ids)
            return ids

    def _event_writes(self, stored_events: Sequence[StoredEvent]) -> list[Write]:
        seen: set[tuple[str, int]] = set()
        writes = []
        for e in stored_events:
            key = self.datastore.key(e.originator_id)
            if (key, e.originator_version) in seen:
                raise IntegrityError(f"event {key} v{e.originator_version} appears twice in one save")
            seen.add((key, e.originator_version))
            item = self.events(key, e.originator_version, topic=e.topic, state=e.state)
            size = check_size(item, e)
            writes.append(Write("event", item, self.events.originator_id.does_not_exist(), size))
        return writes

    # hooks for the application and process recorders
    def _writing(self, stored_events: Sequence[StoredEvent]) -> AbstractContextManager[Any]:
        return nullcontext()

    def _notification_writes(self, stored_events: Sequence[StoredEvent]) -> tuple[list[int], list[Write]]:
        return [], []

    def _extra_writes(self, **kwargs: Any) -> list[Write]:
        return []

    def _forget_positions(self) -> None:
        pass

    def _remember_positions(self, stored_events: Sequence[StoredEvent], ids: list[int]) -> None:
        pass

    def _commit(self, writes: list[Write]) -> None:
        # always a transaction, even for one item: its request token makes botocore's
        # retries idempotent, where a plain put retried after a lost response would
        # fail its own condition and report a conflict that never happened
        transact(self.datastore.connection, writes)

    @staticmethod
    def _conflict_message(stored_events: Sequence[StoredEvent], c: Cancelled) -> str:
        versions = ", ".join(f"{e.originator_id} v{e.originator_version}" for e in stored_events[:5])
        return f"conflict on {sorted(c.failed)} saving [{versions}]: nothing was written"

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None,
                      lte: int | None = None, desc: bool = False,
                      limit: int | None = None) -> Sequence[StoredEvent]:
        version = self.events.originator_version
        condition = None
        if gt is not None and lte is not None:
            if lte <= gt:
                return []
            condition = version.between(gt + 1, lte)
        elif gt is not None:
            condition = version > gt
        elif lte is not None:
            condition = version <= lte
        key = self.datastore.key(originator_id)
        items = self.events.query(key, range_key_condition=condition, consistent_read=True,
                                  scan_index_forward=not desc, limit=limit, page_size=limit)
        originator_id = self.datastore.originator_id(key)
        return [StoredEvent(originator_id=originator_id, originator_version=int(i.originator_version),
                            topic=i.topic, state=bytes(i.state)) for i in items]


def check_size(item: Any, event: StoredEvent) -> int:
    """The item's size in bytes; refuse an item DynamoDB would refuse."""
    size = item_size({a.attr_name: getattr(item, name)
                      for name, a in item.get_attributes().items()})
    if size > MAX_ITEM_BYTES:
        raise ItemTooLargeError(event.originator_id, event.originator_version, size, MAX_ITEM_BYTES)
    return size
