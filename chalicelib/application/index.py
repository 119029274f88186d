"""The set of rooms that are not closed, read from the notification log.

Rooms are independent aggregates, so no single record lists them. The index
reads ``RoomCreated`` and ``RoomClosed`` notifications (filtered by topic) from
where it last stopped. That relies on the store never revealing a notification
id before a lower one (eventsourcing's recorders serialise inserts; the DynamoDB
recorder stops reading at a gap); ``rebuild_seconds`` starts over periodically
for a store that cannot promise it. The index lives in one process (one Lambda
container) and reads the whole created/closed history on its first use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.utils import get_topic

from chalicelib.domain.events import RoomClosed, RoomCreated

CREATED_TOPIC = get_topic(RoomCreated)
CLOSED_TOPIC = get_topic(RoomClosed)


class LiveRoomIndex:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        *,
        page_size: int = 500,
        rebuild_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._recorder = recorder
        self._page_size = page_size
        self._rebuild_seconds = rebuild_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._cursor = 0
        self._rooms: dict[UUID, None] = {}  # ordered by creation
        self._built_at = self._clock()

    def room_ids(self) -> list[UUID]:
        """Ids of rooms created and not (yet known to be) closed, oldest first."""
        with self._lock:
            rebuild = self._rebuild_seconds
            if rebuild is not None and self._clock() - self._built_at >= rebuild:
                self._reset()
            while True:
                page = self._recorder.select_notifications(
                    start=self._cursor + 1,
                    limit=self._page_size,
                    topics=[CREATED_TOPIC, CLOSED_TOPIC],
                )
                for n in page:
                    if n.topic == CREATED_TOPIC:
                        self._rooms[n.originator_id] = None
                    else:
                        self._rooms.pop(n.originator_id, None)
                    self._cursor = n.id
                if len(page) < self._page_size:
                    return list(self._rooms)
