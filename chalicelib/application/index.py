"""The set of rooms that are not closed, or whose recordings are not over, and the
recordings whose lost node's leftovers are still to be swept, read from the
notification log.

Rooms are independent aggregates, so no single record lists them. The index
reads ``RoomCreated`` and ``RoomClosed`` notifications (filtered by topic) from
where it last stopped. That relies on the store never revealing a notification
id before a lower one (eventsourcing's recorders serialise inserts; the DynamoDB
recorder stops reading at a gap); ``rebuild_seconds`` starts over periodically
for a store that cannot promise it. The index lives in one process (one Lambda
container) and reads the whole created/closed history on its first use.

The sweeps come from ``RecordingFailed`` (``node_lost``: sweep now) and
``RecordingLeftoversListed`` (``retrying``: after the attempts it counts; else done),
decoded by the application's mapper; a retry whose outcome was not recorded (the same
as the last) is noted here by the sweeper, so a new process counts attempts from the
last recorded one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.utils import get_topic

from chalicelib.domain import events as ev
from chalicelib.domain.leftovers import RETRYING

CREATED_TOPIC = get_topic(ev.RoomCreated)
CLOSED_TOPIC = get_topic(ev.RoomClosed)
# a recording is at work from its start (or a retry) to its one terminal event, so a
# closed room stays in the index while one of its recordings uploads
RECORDING_BEGINS = {get_topic(ev.RecordingStarted), get_topic(ev.RecordingRetryRequested)}
RECORDING_ENDS = {get_topic(ev.RecordingCompleted), get_topic(ev.RecordingFailed)}
FAILED_TOPIC = get_topic(ev.RecordingFailed)
LEFTOVERS_TOPIC = get_topic(ev.RecordingLeftoversListed)
TOPICS = [CREATED_TOPIC, CLOSED_TOPIC, LEFTOVERS_TOPIC,
          *sorted(RECORDING_BEGINS | RECORDING_ENDS)]


class LiveRoomIndex:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        *,
        page_size: int = 500,
        rebuild_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        decode: Callable[[Any], Any] | None = None,
    ):
        self._recorder = recorder
        self._decode = decode  # a notification to its event; None: no sweeps kept
        self._page_size = page_size
        self._rebuild_seconds = rebuild_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._cursor = 0
        self._rooms: dict[UUID, None] = {}  # ordered by creation
        self._recordings: dict[UUID, int] = {}  # rooms' recordings at work
        # (room, recording) -> (sweeps made, when the last was made; the failure's time)
        self._sweeps: dict[tuple[UUID, str], tuple[int, datetime]] = {}
        self._built_at = self._clock()

    def room_ids(self) -> list[UUID]:
        """Ids of rooms created and not (yet known to be) closed, oldest first, then
        closed rooms with a recording at work."""
        with self._lock:
            self._read()
            busy = [r for r, n in self._recordings.items() if n and r not in self._rooms]
            return list(self._rooms) + busy

    def sweeps(self) -> dict[tuple[UUID, str], tuple[int, datetime]]:
        """``(room id, recording id) -> (sweeps made, time of the last)`` of every
        recording whose leftovers are to be swept (0 sweeps: the time it failed)."""
        with self._lock:
            self._read()
            return dict(self._sweeps)

    def swept(self, room_id: UUID, recording_id: str, attempts: int,
              at: datetime | None) -> None:
        """A sweep was made and not recorded (``at``), or none is left to make (None)."""
        with self._lock:
            if at is None:
                self._sweeps.pop((room_id, recording_id), None)
            else:
                self._sweeps[(room_id, recording_id)] = (attempts, at)

    def _read(self) -> None:
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
                if self._decode is not None and n.topic in (FAILED_TOPIC, LEFTOVERS_TOPIC):
                    self._note_sweep(self._decode(n))
                self._cursor = n.id
            if len(page) < self._page_size:
                return

    def _note_sweep(self, event: Any) -> None:
        key = (event.originator_id, event.recording_id)
        if isinstance(event, ev.RecordingFailed):
            if event.reason == "node_lost":
                self._sweeps.setdefault(key, (0, event.timestamp))
        elif event.status == RETRYING:
            self._sweeps[key] = (event.attempts, event.timestamp)
        else:
            self._sweeps.pop(key, None)

    def _note(self, topic: str, room_id: UUID) -> None:
        if topic == CREATED_TOPIC:
            self._rooms[room_id] = None
        elif topic == CLOSED_TOPIC:
            self._rooms.pop(room_id, None)
        elif topic in RECORDING_BEGINS or topic in RECORDING_ENDS:
            count = self._recordings.get(room_id, 0) + (1 if topic in RECORDING_BEGINS else -1)
            if count > 0:
                self._recordings[room_id] = count
            else:
                self._recordings.pop(room_id, None)
