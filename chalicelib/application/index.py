"""The set of rooms that are not closed, or whose recordings are not over, read from
the notification log.

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

from chalicelib.domain import events as ev

CREATED_TOPIC = get_topic(ev.RoomCreated)
CLOSED_TOPIC = get_topic(ev.RoomClosed)
# a recording is at work from its start (or a retry) to its one terminal event, so a
# closed room stays in the index while one of its recordings uploads
RECORDING_BEGINS = {get_topic(ev.RecordingStarted), get_topic(ev.RecordingRetryRequested)}
RECORDING_ENDS = {get_topic(ev.RecordingCompleted), get_topic(ev.RecordingFailed)}
TOPICS = [CREATED_TOPIC, CLOSED_TOPIC, *sorted(RECORDING_BEGINS | RECORDING_ENDS)]


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
        self._recordings: dict[UUID, int] = {}  # rooms' recordings at work
        self._built_at = self._clock()

    def room_ids(self) -> list[UUID]:
        """Ids of rooms created and not (yet known to be) closed, oldest first, then
        closed rooms with a recording at work."""
        with self._lock:
            rebuild = self._rebuild_seconds
            if rebuild is not None and self._clock() - self._built_at >= rebuild:
                self._reset()
            while True:
                page = self._recorder.select_notifications(
                    start=self._cursor + 1,
                    limit=self._page_size,
                    topics=TOPICS,
                )
                for n in page:
                    self._note(n.topic, n.originator_id)
                    self._cursor = n.id
                if len(page) < self._page_size:
                    busy = [r for r, n in self._recordings.items() if n and r not in self._rooms]
                    return list(self._rooms) + busy

    def _note(self, topic: str, room_id: UUID) -> None:
        if topic == CREATED_TOPIC:
            self._rooms[room_id] = None
        elif topic == CLOSED_TOPIC:
            self._rooms.pop(room_id, None)
        else:
            count = self._recordings.get(room_id, 0) + (1 if topic in RECORDING_BEGINS else -1)
            if count > 0:
                self._recordings[room_id] = count
            else:
                self._recordings.pop(room_id, None)
