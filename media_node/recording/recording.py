"""One per-track recording of one room: a file per track, streamed, verified, reported.

Reports go to the control plane as they happen (``POST .../report``): ``recording``
once writers run, ``uploaded`` for each file as it reaches the bucket (a speaker who
leaves gets theirs right away; one who comes back gets a new file), ``uploading`` at
stop, then ``completed`` or ``failed`` with the files that did reach the bucket.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from concurrent.futures import Executor
from typing import Awaitable, Callable

from ..counters import COUNTERS
from ..sfu.forwarding import PublishedTrack
from ..sfu.room import Room
from ..storage.base import Uploader
from ..storage.errors import StorageError
from .batches import MuxClock
from .frames import CLOCK_RATES
from .kept import KeptFile, remove_note, save_note
from .track_writer import FLUSH_INTERVAL, TrackWriter, remove_spool

logger = logging.getLogger(__name__)
Reporter = Callable[[dict], Awaitable[None]]
SPOOL_READ = 1 << 20


class Recording:
    """Records every track of ``room``, present and future, until :meth:`stop`.

    :param recording_id: the control plane's id; the objects go under ``<id>/``.
    :param room: the room on this node.
    :param report: sends one report to the control plane (retried by the client).
    :param spool_dir: where files are written on the node's disk.
    :param pool: the thread pool that opens, writes, reads and closes spool files.
    :param clock: the node's writers' shared clock on ``pool`` (default: this
        recording's own).
    """

    def __init__(self, recording_id: str, room: Room, report: Reporter,
                 spool_dir: str, pool: Executor, clock: MuxClock | None = None) -> None:
        self.id = recording_id
        self.room = room
        self.uploader: Uploader | None = None
        self._report = report
        self._spool_dir = spool_dir
        self._pool = pool
        self._clock = clock or MuxClock(pool, FLUSH_INTERVAL)
        self.writers: list[TrackWriter] = []
        self.files: list[dict] = []
        self.kept: list[KeptFile] = []  # files whose upload failed: their spool stays
        self.error: StorageError | None = None
        self.stopped = False
        self.outcome: str | None = None  # "completed" or "failed"
        self._counts: dict[tuple[str, str], int] = {}
        self._finishing: set[TrackWriter] = set()
        self._settled = asyncio.Event()  # the destination is connected, or has failed
        self._tasks: set[asyncio.Task] = set()
        self._added_at: dict[TrackWriter, float] = {}
        self._note_lock = asyncio.Lock()  # one write of the note at a time, in order

    @classmethod
    def restored(cls, note: dict, room: Room, report: Reporter, spool_dir: str,
                 pool: Executor) -> "Recording":
        """A recording that failed before this node restarted, from its note on disk
        (:mod:`.kept`): nothing more to record, its kept files ready to retry."""
        recording = cls(note["recordingId"], room, report, spool_dir, pool)
        recording.stopped, recording.outcome = True, "failed"
        recording.files, recording.kept = list(note["files"]), list(note["kept"])
        return recording

    def begin(self) -> None:
        """Record the room's tracks from now on, and every track published until stop;
        the files wait on the node's disk until :meth:`connect`."""
        self.room.on_publish.append(self._add)
        for source in list(self.room.sources):
            self._add(source)

    async def connect(self, uploader: Uploader) -> None:
        """Stream every file to ``uploader`` (the destination, once fetched and opened)."""
        self.uploader = uploader
        for writer in list(self.writers):
            if not writer.finished:
                await self._open(writer)
        self._settled.set()
        if self.error is None:
            await self._save_note()
            await self._report({"event": "recording"})

    async def fail(self, error: StorageError) -> None:
        """The destination could not be had: nothing is recorded, the failure reported."""
        self.error = error
        self._settled.set()
        await self.stop("destination_error")

    def _add(self, source: PublishedTrack) -> None:
        codec = source.mime_type.split("/")[-1].lower()
        if not (self.stopped or source.closed or codec not in CLOCK_RATES):
            self._record(source)

    def _record(self, source: PublishedTrack) -> None:
        """Start recording one more track (a file of its own)."""
        key = (source.publisher_id, source.kind)
        self._counts[key] = number = self._counts.get(key, 0) + 1
        writer = TrackWriter(source, f"{self.id}/{source.publisher_id}/{source.kind}-{number:02d}",
                             self._spool_dir, self._pool, lambda: self.room.last_seq,
                             self._on_ended, self._clock)
        writer.start()
        self.writers.append(writer)
        self._added_at[writer] = time.time()
        if self.uploader is not None:
            self._spawn(self._open(writer))
            self._spawn(self._save_note())

    async def _open(self, writer: TrackWriter) -> None:
        try:
            upload = await self.uploader.open(writer.name, writer.file.content_type)
        except StorageError as exc:
            logger.warning("recording %s refused by its destination: %s", self.id, exc.message)
            self.error = self.error or exc
            self._spawn(self.stop("destination_error"))
            return
        writer.attach(upload)

    def _on_ended(self, writer: TrackWriter) -> None:
        self._spawn(self._finish(writer))

    async def _finish(self, writer: TrackWriter) -> None:
        if writer in self._finishing:  # its track ended and the recording stops: once
            return
        self._finishing.add(writer)
        await self._settled.wait()
        if writer.upload is None and self.uploader is not None and self.error is None:
            await self._open(writer)  # it ended before its upload was opened
        await writer.finish()
        if writer.stored is not None:
            entry = writer.manifest_entry()
            self.files.append(entry)
            await self._save_note()
            await self._report({"event": "uploaded", "file": entry})
        elif writer.error is not None:
            self.kept.append(KeptFile(writer.name, writer.file.path, writer.file.content_type,
                                      writer.sha256,
                                      writer.manifest_entry(),
                                      writer.upload, writer.error))

    async def stop(self, reason: str) -> None:
        """Finish every file, upload the tails, verify, report the outcome (once)."""
        if self.stopped:
            return
        self.stopped = True
        if self._add in self.room.on_publish:
            self.room.on_publish.remove(self._add)
        if self.error is None:
            await self._report({"event": "uploading"})
        current = asyncio.current_task()
        await asyncio.gather(*(self._finish(w) for w in self.writers))
        await asyncio.gather(*(t for t in self._tasks if t is not current),
                             return_exceptions=True)
        await self._conclude(reason)

    async def retry_upload(self, uploader: Uploader) -> None:
        """Upload again the files kept on disk after a failed upload (``retry-upload``)."""
        if self.outcome != "failed" or not self.kept:
            return
        self.uploader, self.error = uploader, None
        for kept in list(self.kept):
            try:
                if kept.upload is not None and not kept.upload.settled:
                    await kept.upload.abort()  # the store was down when it was given up
                stored = await upload_spool(uploader, kept, self._pool)
            except StorageError as exc:
                kept.error = exc
                continue
            self.kept.remove(kept)
            entry = {**kept.entry, "uri": stored.uri, "bytes": stored.bytes,
                     "etag": stored.etag}
            self.files.append(entry)
            await self._report({"event": "uploaded", "file": entry})
        await self._conclude("retry")

    async def _conclude(self, reason: str) -> None:
        failure = self.error or next((k.error for k in self.kept if k.error), None)
        self.outcome = "completed" if failure is None else "failed"
        loop = asyncio.get_running_loop()
        async with self._note_lock:  # kept files: a note for a restarted node; else none
            if self.kept:
                await loop.run_in_executor(self._pool, save_note, self._spool_dir,
                                           self.room.id, self.id, list(self.files),
                                           list(self.kept))
            else:
                await loop.run_in_executor(self._pool, remove_note, self._spool_dir, self.id)
        if failure is None:
            await self._report({"event": "completed", "files": list(self.files)})
            return
        message = failure.message
        if self.kept:
            message += "; kept on the node at " + ", ".join(k.path for k in self.kept)
        unsettled = [k.upload for k in self.kept if k.upload and not k.upload.settled]
        if unsettled:  # listed, never left to bill silently; retry-upload aborts them
            message += "; unfinished uploads not aborted yet: " + ", ".join(
                f"{u.key} ({getattr(u, 'upload_id', '')})".replace(" ()", "") for u in unsettled)
        COUNTERS.recordings_failed += 1
        logger.warning("recording %s failed (%s): %s", self.id, reason, message)
        await self._report({"event": "failed", "reason": failure.reason, "error": message,
                            "files": list(self.files)})

    async def discard(self) -> None:
        """Drop a recording that is over already: nothing reported, its spools deleted."""
        await self.close()
        loop = asyncio.get_running_loop()
        for writer in self.writers:
            await loop.run_in_executor(self._pool, remove_spool, writer.file.path)

    async def _save_note(self) -> None:
        """The note a restarted node reads (:mod:`.kept`): the files uploaded, and those
        being written, should this process be killed."""
        async with self._note_lock:
            if self.outcome is not None:
                return  # concluded: the note is final (or gone)
            await asyncio.get_running_loop().run_in_executor(
                self._pool, functools.partial(save_note, live=self._live(),
                                              last_seq=self.room.last_seq),
                self._spool_dir, self.room.id, self.id, list(self.files), list(self.kept))

    def _live(self) -> list[dict]:
        """The note's entries of the files being written (:func:`.kept.save_note`)."""
        return [{"name": w.name, "path": w.file.path, "participantId": w.source.publisher_id,
                 "kind": w.kind, "addedAt": self._added_at[w], "startSeq": w.start_seq}
                for w in self.writers if not w.finished and w in self._added_at]

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Node shutdown: stop at once, spools stay on disk, tasks cancelled."""
        self.stopped = True
        for writer in self.writers:
            writer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.uploader is not None:
            self.uploader.close()


async def upload_spool(uploader: Uploader, kept: KeptFile, pool: Executor):
    """Send a kept spool file as a new object, verify it, delete the spool; an upload that
    fails and cannot be aborted stays on ``kept`` to be aborted later."""
    loop = asyncio.get_running_loop()
    upload = await uploader.open(kept.name, kept.content_type)
    try:
        offset = 0
        while chunk := await loop.run_in_executor(pool, read_at, kept.path, offset):
            await upload.write(chunk)
            offset += len(chunk)
        stored = await upload.complete(sha256=kept.sha256)
    except StorageError:
        kept.upload = upload
        with contextlib.suppress(StorageError):
            await upload.abort()
        raise
    await loop.run_in_executor(pool, remove_spool, kept.path)
    return stored


def read_at(path: str, offset: int) -> bytes:
    """Up to 1 MiB of the file at ``path`` from ``offset`` (blocking)."""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(SPOOL_READ)

