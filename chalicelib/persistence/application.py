"""Application recorder: events plus a gap-free notification log in commit order.

The log is split into ``DYNAMODB_NOTIFICATION_SHARDS`` shards; an aggregate's events
always go to the shard its id hashes to. Each shard is one partition whose sort key
is the notification id. A save puts its events and their log entries in one
transaction, each entry conditioned on its id being free. The writer takes the next
ids after the last one it knows, so two saves that race for the same ids cannot
both commit; the loser reads the end of the log again and retries. Ids are
therefore gap-free and in commit order within a shard.
"""
from __future__ import annotations

import threading
import zlib
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import (
    ApplicationRecorder,
    ListenNotifySubscription,
    Notification,
    ProgrammingError,
    StoredEvent,
)

from .aggregate import DynamoDBAggregateRecorder, check_size
from .items import NotificationItem
from .transact import Write

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .datastore import DynamoDBDatastore


class DynamoDBApplicationRecorder(DynamoDBAggregateRecorder, ApplicationRecorder):
    """Aggregate events plus the application's notification log."""

    def __init__(self, datastore: DynamoDBDatastore, read_shard: int | None = None):
        super().__init__(datastore, "events")
        self.notifications = datastore.model(NotificationItem, "notifications")
        self.shards = datastore.settings.notification_shards
        if read_shard is not None and not 0 <= read_shard < self.shards:
            raise ProgrammingError(f"no notification shard {read_shard} of {self.shards}")
        self.read_shard = read_shard if read_shard is not None else (0 if self.shards == 1 else None)
        self._last_ids: dict[int, int] = {}  # the last id this process saw per shard
        self._lock = threading.Lock()
        self._shard_locks = [threading.Lock() for _ in range(self.shards)]
        self._listeners: set[threading.Event] = set()

    def create_table(self) -> None:
        super().create_table()
        self.datastore.create_table(self.notifications)

    def for_shard(self, shard: int) -> "DynamoDBApplicationRecorder":
        """A recorder that reads the log of one shard (the way to read when shards > 1).

        It shares this recorder's state, so its subscriptions wake on this one's saves.
        """
        view = DynamoDBApplicationRecorder(self.datastore, read_shard=shard)
        view._last_ids, view._lock = self._last_ids, self._lock
        view._shard_locks, view._listeners = self._shard_locks, self._listeners
        return view

    def shard_of(self, originator_id: Any) -> int:
        """The shard an aggregate's notifications go to."""
        return zlib.crc32(self.datastore.key(originator_id).encode()) % self.shards

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = self._insert_events(stored_events, **kwargs)
        for listener in list(self._listeners):
            listener.set()
        return ids

    @contextmanager
    def _writing(self, stored_events: Sequence[StoredEvent]) -> Iterator[None]:
        # saves from this process to one shard queue here rather than race each other
        # in DynamoDB, where all but one would lose and retry; other processes still
        # race, and the conditions decide. Locks are taken in shard order.
        shards = sorted({self.shard_of(e.originator_id) for e in stored_events})
        with ExitStack() as stack:
            for shard in shards:
                stack.enter_context(self._shard_locks[shard])
            yield

    def _notification_writes(self, stored_events: Sequence[StoredEvent]) -> tuple[list[int], list[Write]]:
        next_ids: dict[int, int] = {}
        ids, writes = [], []
        for e in stored_events:
            shard = self.shard_of(e.originator_id)
            if shard not in next_ids:
                next_ids[shard] = self._last_id(shard) + 1
            nid = next_ids[shard]
            next_ids[shard] += 1
            item = self.notifications(
                str(shard), nid, originator_id=self.datastore.key(e.originator_id),
                originator_version=e.originator_version, topic=e.topic, state=e.state)
            size = check_size(item, e)
            ids.append(nid)
            writes.append(Write("notification", item, self.notifications.shard.does_not_exist(), size))
        return ids, writes

    def _last_id(self, shard: int) -> int:
        with self._lock:
            known = self._last_ids.get(shard)
        return known if known is not None else (self._query_max(shard) or 0)

    def _forget_positions(self) -> None:
        with self._lock:
            self._last_ids.clear()

    def _remember_positions(self, stored_events: Sequence[StoredEvent], ids: list[int]) -> None:
        with self._lock:
            for e, nid in zip(stored_events, ids):
                shard = self.shard_of(e.originator_id)
                self._last_ids[shard] = max(self._last_ids.get(shard, 0), nid)

    def _query_max(self, shard: int) -> int | None:
        for item in self.notifications.query(str(shard), consistent_read=True,
                                             scan_index_forward=False, limit=1, page_size=1):
            return int(item.notification_id)
        return None

    def _shard_to_read(self) -> int:
        if self.read_shard is None:
            raise ProgrammingError(
                f"the notification log has {self.shards} shards: read one with for_shard(k)")
        return self.read_shard

    def max_notification_id(self) -> int | None:
        return self._query_max(self._shard_to_read())

    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Sequence[str] = (), *,
                             inclusive_of_start: bool = True) -> Sequence[Notification]:
        shard = self._shard_to_read()
        first = 1 if start is None else (start if inclusive_of_start else start + 1)
        first = max(first, 1)
        if (stop is not None and stop < first) or limit < 1:
            return []
        nid = self.notifications.notification_id
        condition = nid >= first if stop is None else nid.between(first, stop)
        results: list[Notification] = []
        expected = first
        items = self.notifications.query(str(shard), range_key_condition=condition,
                                         consistent_read=True,
                                         page_size=limit if not topics else max(limit, 100))
        for item in items:
            # ids are gap-free once committed; a gap is a save still landing, so stop
            # here rather than let a reader step past an id it has not seen
            if int(item.notification_id) != expected:
                break
            expected += 1
            if topics and item.topic not in topics:
                continue
            results.append(Notification(
                id=int(item.notification_id),
                originator_id=self.datastore.originator_id(item.originator_id),
                originator_version=int(item.originator_version),
                topic=item.topic, state=bytes(item.state)))
            if len(results) >= limit:
                break
        return results

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> "DynamoDBSubscription":
        return DynamoDBSubscription(self, gt=gt, topics=topics)


class DynamoDBSubscription(ListenNotifySubscription[DynamoDBApplicationRecorder]):
    """Follows the log: woken by saves in this process, and by polling for the others'."""

    def __init__(self, recorder: DynamoDBApplicationRecorder, gt: int | None = None,
                 topics: Sequence[str] = ()):
        self._stopping = threading.Event()
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        recorder._listeners.add(self._has_been_notified)
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        interval = self._recorder.datastore.settings.poll_interval
        while not self._stopping.wait(interval):
            self._has_been_notified.set()

    def stop(self) -> None:
        self._stopping.set()
        self._recorder._listeners.discard(self._has_been_notified)
        super().stop()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poller.join()
