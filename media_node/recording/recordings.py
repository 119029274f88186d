"""The node's recordings, started and stopped by the room's events feed.

``RecordingStarted {recordingId, output, destinationId}``: fetch the destination from the
control plane, open its sealed credentials, start a writer per track (``per-track``) or
the compositor (``composite``).
``RecordingStopped {recordingId, reason}`` (or ``RoomClosed``): finish, upload the tails,
verify, report. ``RecordingRetryRequested {recordingId}``: upload again what a failed
upload left on the node's disk.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from ..control.client import ControlPlane
from ..sfu.room import Room
from ..storage.base import Uploader
from ..storage.credentials import SecretOpener
from ..storage.destinations import uploader_for
from ..storage.errors import DestinationRefused, StorageError
from .batches import MuxClock
from .composite import CompositeRecording
from .compositor import CompositeSettings
from .kept import load_notes, remove_note, salvage_live, save_note
from .recording import Recording
from .track_writer import FLUSH_INTERVAL

logger = logging.getLogger(__name__)
RECORDING_EVENTS = ("RecordingStarted", "RecordingStopped", "RecordingRetryRequested")


class RecordingOver(Exception):
    """The control plane says the recording is past what an event asked (a feed replayed
    from its start after a restart shows every old ``RecordingStarted`` again)."""


class Recordings:
    """Every recording running on this node.

    :param control_plane: where destinations come from and reports go.
    :param opener: opens a destination's ``sealed`` credentials (None: none can be opened).
    :param spool_dir: where files are written on the node's disk (created if missing).
    :param make_uploader: ``(destination, credentials) -> Uploader`` (tests pass their own).
    :param composite: the composite output's picture, rate and threads.
    """

    def __init__(self, control_plane: ControlPlane, opener: SecretOpener | None,
                 spool_dir: str = "",
                 make_uploader: Callable[[dict, dict | None], Uploader] = uploader_for,
                 composite: CompositeSettings | None = None) -> None:
        self.control_plane = control_plane
        self.opener = opener
        self.spool_dir = spool_dir or os.path.join(tempfile.gettempdir(), "dropon-recordings")
        self.make_uploader = make_uploader
        self.composite = composite or CompositeSettings()
        self.active: dict[str, Recording] = {}
        self._starting: dict[str, asyncio.Task] = {}
        self._stopping: dict[str, asyncio.Task] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="recording")
        self._clock = MuxClock(self._pool, FLUSH_INTERVAL)  # every per-track writer's
        self._tasks: set[asyncio.Task] = set()

    async def apply(self, room: Room, kind: str, fields: dict) -> None:
        """Act on one recording event of ``room`` (never blocks the feed on uploads)."""
        recording_id = str(fields.get("recordingId", ""))
        if not recording_id:
            return
        if kind == "RecordingStarted":
            if recording_id not in self.active and recording_id not in self._starting:
                task = self._spawn(self._start(room, recording_id, fields))
                self._starting[recording_id] = task
                task.add_done_callback(lambda _: self._starting.pop(recording_id, None))
        elif kind == "RecordingStopped":
            self._spawn(self._stop(recording_id, str(fields.get("reason", "stopped"))))
        elif kind == "RecordingRetryRequested":
            self._spawn(self._retry(room, recording_id))

    async def room_closed(self, room: Room, reason: str = "room_closed") -> None:
        """Stop every recording of ``room`` and wait for their outcome."""
        ids = [rid for rid, rec in self.active.items() if rec.room is room]
        ids += [rid for rid in self._starting if rid not in ids]
        await asyncio.gather(*(self._stop(rid, reason) for rid in ids))

    async def _start(self, room: Room, recording_id: str, fields: dict) -> None:
        async def report(body: dict) -> None:
            await self._report(room.id, recording_id, body)

        output = fields.get("output", "per-track")
        if output not in ("per-track", "composite"):
            await report({"event": "failed", "reason": "output_not_supported",
                          "error": f"no such output: {output!r}", "files": []})
            return
        os.makedirs(self.spool_dir, exist_ok=True)
        if output == "composite":
            recording = CompositeRecording(recording_id, room, report, self.spool_dir,
                                           self._pool, self.composite)
        else:
            recording = Recording(recording_id, room, report, self.spool_dir, self._pool,
                                  self._clock)
        self.active[recording_id] = recording
        recording.begin()  # frames are kept from the event on, while the destination comes
        try:
            uploader = await self._uploader(room.id, recording_id,
                                            ("starting", "recording", "stopping"))
        except RecordingOver:
            await recording.discard()
            if self.active.get(recording_id) is recording:
                self._forget(recording_id)
            return
        except StorageError as exc:
            await recording.fail(exc)
            self._forget(recording_id)
            return
        await recording.connect(uploader)

    async def _uploader(self, room_id: str, recording_id: str,
                        expected: tuple[str, ...]) -> Uploader:
        try:
            destination = await self.control_plane.recording_destination(room_id, recording_id)
        except Exception as exc:  # unreachable control plane, or no such recording there
            raise DestinationRefused(f"no destination for {recording_id}: {exc}") from None
        if destination.get("recordingStatus", expected[0]) not in expected:
            raise RecordingOver(recording_id)
        sealed = destination.get("sealed")
        if sealed and self.opener is None:
            raise DestinationRefused("this node has no DROPON_SECRETS_KEY to open credentials")
        loop = asyncio.get_running_loop()
        # opening and building may call out (STS assume-role): off the loop
        credentials = await loop.run_in_executor(
            self._pool, self.opener.open, sealed) if sealed else None
        return await loop.run_in_executor(self._pool, self.make_uploader, destination,
                                          credentials)

    async def _stop(self, recording_id: str, reason: str) -> None:
        # a second stop (RecordingStopped after the node's own, or RoomClosed after it)
        # waits for the first: it must not close the uploader under its uploads
        stopping = self._stopping.get(recording_id)
        if stopping is None:
            stopping = self._stopping[recording_id] = self._spawn(
                self._stop_once(recording_id, reason))
            stopping.add_done_callback(lambda _: self._stopping.pop(recording_id, None))
        await asyncio.shield(stopping)

    async def _stop_once(self, recording_id: str, reason: str) -> None:
        starting = self._starting.get(recording_id)
        if starting is not None:
            await asyncio.gather(starting, return_exceptions=True)
        recording = self.active.get(recording_id)
        if recording is not None:
            await recording.stop(reason)
            if not recording.kept:
                self._forget(recording_id)

    async def _retry(self, room: Room, recording_id: str) -> None:
        recording = self.active.get(recording_id)
        if recording is None or recording.outcome != "failed":
            return
        try:
            uploader = await self._uploader(room.id, recording_id, ("uploading",))
        except RecordingOver:
            return  # a replayed request, done already
        except StorageError as exc:
            await self._report(room.id, recording_id, {
                "event": "failed", "reason": exc.reason, "error": exc.message,
                "files": list(recording.files)})
            return
        old = recording.uploader  # kept open: it aborts what the failed upload left
        await recording.retry_upload(uploader)
        if old is not None:
            old.close()
        if not recording.kept:
            self._forget(recording_id)

    async def restore(self, room_for: Callable[[str], Room]) -> None:
        """Recordings whose files a previous run of the node left, with their notes: kept
        after a failed upload, or being written when it was killed (finished now from their
        spools); ``room_for`` gives, and follows, their rooms. Each waits for a retry."""
        loop = asyncio.get_running_loop()
        for note in await loop.run_in_executor(self._pool, load_notes, self.spool_dir):
            rid, room_id, salvaged = note["recordingId"], note["roomId"], None
            if note["live"]:  # this node was killed while writing them
                try:
                    salvaged = await loop.run_in_executor(self._pool, salvage_live, note)
                except Exception:  # one bad note must not keep the node from starting
                    logger.exception("recording %s: its files could not be finished", rid)
                    continue
                note["kept"] += salvaged
            if not note["kept"]:
                await loop.run_in_executor(self._pool, remove_note, self.spool_dir, rid)
                continue
            await loop.run_in_executor(self._pool, save_note, self.spool_dir, room_id, rid,
                                       note["files"], note["kept"])
            # active before the room's feed can run (no await in between), so that its
            # replayed RecordingStarted finds the recording here
            self.active[rid] = Recording.restored(
                note, room_for(room_id), functools.partial(self._report, room_id, rid),
                self.spool_dir, self._pool)
            logger.info("recording %s: %d kept files to retry", rid, len(note["kept"]))
            if salvaged is not None:
                self._spawn(self._fail_interrupted(room_id, rid, {
                    "event": "failed", "reason": "node_lost", "files": note["files"],
                    "error": "the media node restarted mid-recording; kept on the node at "
                             + ", ".join(k.path for k in salvaged)}))

    async def _fail_interrupted(self, room_id: str, recording_id: str, report: dict) -> None:
        """End the run this node was killed in, if the control plane has not: after a
        quick restart its heartbeats never stopped long enough for ``node_lost``. Not once
        a host retried (the recording is another run by then, which this node serves)."""
        try:
            destination = await self.control_plane.recording_destination(room_id, recording_id)
        except Exception as exc:  # the feed's replay, or the tick, settles it otherwise
            logger.warning("recording %s: status unknown after restart: %s", recording_id, exc)
            return
        if destination.get("recordingRetries", 0) == 0 and destination.get(
                "recordingStatus", "recording") in ("starting", "recording", "stopping",
                                                    "uploading"):
            await self._report(room_id, recording_id, report)

    def _forget(self, recording_id: str) -> None:
        recording = self.active.pop(recording_id, None)
        if recording is not None and recording.uploader is not None:
            recording.uploader.close()

    async def _report(self, room_id: str, recording_id: str, body: dict) -> None:
        try:
            await self.control_plane.report_recording(room_id, recording_id, body)
        except Exception as exc:  # the client retried with backoff already
            logger.error("recording %s: report %s lost: %s", recording_id, body.get("event"), exc)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Node shutdown: cancel everything; spool files stay on disk."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for recording in self.active.values():
            await recording.close()
        self.active.clear()
        self._pool.shutdown(wait=False)
