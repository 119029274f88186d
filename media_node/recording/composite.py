"""The composite output on the node's side: frames out to the compositor, the MP4 in.

On the loop, each track's tap only appends the frame's RTP payloads, stamped with their
arrival time, to a list. Every ``BATCH_INTERVAL`` that list goes to the compositor
process (:mod:`.compositor`) through a bounded queue, without waiting: when the queue is
full the compositor has fallen behind, and the batch's frames are dropped and counted
(the tracks' arrivals, departures and mutes are kept for the next batch). Forwarding
never waits for the compositor, and the compositor never holds a forwarded packet back.
The MP4 the compositor writes only grows (fragments), and every ``UPLOAD_INTERVAL`` what
it added is streamed to the destination, as per-track files are.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Callable

from ..sfu.forwarding import PublishedTrack
from ..storage.errors import StorageError
from . import compositor
from .compositor import CompositeSettings
from .recording import Recording, Reporter, read_at
from .track_writer import RecordingFailed, complete_spool, spool_entry

logger = logging.getLogger(__name__)
BATCH_INTERVAL = 0.1  # seconds between batches to the compositor
UPLOAD_INTERVAL = 1.0  # seconds between reads of the growing MP4
QUEUE_BATCHES = 100  # batches (10 s, ~2 MB for 2 speakers) the compositor may be behind
STOP_TIMEOUT = 30.0  # seconds to get the final batch into a full queue


@dataclass
class SpoolPath:
    """Where the composite is written, and its content type."""

    path: str
    content_type: str = "video/mp4"


class _Tap:
    """One track's frames, stamped on arrival, queued for the next batch."""

    def __init__(self, writer: "CompositeWriter", tid: int) -> None:
        self.writer, self.tid = writer, tid

    def on_frame(self, frame: tuple[int, list, bool, float]) -> None:
        timestamp, packets, keyframe, _ = frame  # stamped again on the compositor's clock
        self.writer.events.append(("frame", time.monotonic(), self.tid, timestamp, packets,
                                   keyframe))

    def on_close(self) -> None:
        self.writer.track_ended(self.tid)


class CompositeWriter:
    """The room's one composite file, from :meth:`start` to :meth:`finish`.

    Has what :class:`~.recording.Recording` asks of a writer (``name``, ``file``,
    ``attach``, ``finish``, ``cancel``, ``manifest_entry``, ...).

    :param name: the object name under the destination's prefix.
    :param spool_dir: where the MP4 is written on the node's disk.
    :param pool: the thread pool that reads the spool.
    :param seq: the room's last event sequence number seen.
    :param settings: the picture's size, rate and the compositor's threads.
    :param video: whether the MP4 has a picture (false: AAC alone).
    """

    def __init__(self, name: str, spool_dir: str, pool: Executor, seq: Callable[[], int],
                 settings: CompositeSettings, video: bool = True) -> None:
        self.name = name
        self.file = SpoolPath(os.path.join(spool_dir, name.replace("/", "_")))
        self.settings = settings
        self.video = video
        self.upload = self.error = self.stored = None
        self.sha256 = ""
        self.codecs: list[str] = []
        self.duration = 0.0
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.start_seq, self.end_seq = seq(), None
        self.finished = False
        self.events: list[tuple] = []
        self.dropped_frames = 0  # frames the full queue turned away
        self.summary: dict | None = None
        self._seq, self._pool = seq, pool
        self._sources: dict[int, tuple[PublishedTrack, _Tap, bool]] = {}
        self._sent = 0  # bytes of the spool handed to the upload
        self._stopping = asyncio.Event()
        self._pump: asyncio.Task | None = None
        self._process = None

    def start(self) -> None:
        """Start the compositor process; the output's time 0 is now."""
        self.t0, self.started_at = time.monotonic(), time.time()
        context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        self._inbox = context.Queue(QUEUE_BATCHES)
        self._outbox = context.Queue()
        self._process = context.Process(
            target=compositor.run, name=f"compositor {self.name}", daemon=True,
            args=(self._inbox, self._outbox, self.file.path, self.t0, self.settings,
                  self.video))
        self._pump = asyncio.ensure_future(self._run())

    def add_track(self, source: PublishedTrack, codec: str) -> None:
        """Composite ``source`` from now on (a speaker joins the grid and the mix)."""
        tid = len(self._sources)
        tap = _Tap(self, tid)
        self._sources[tid] = (source, tap, source.muted)
        self.events.append(("track", time.monotonic(), tid, source.publisher_id, source.kind,
                            codec))
        source.taps.add(tap)
        source.request_keyframe()

    def track_ended(self, tid: int) -> None:
        self.events.append(("ended", time.monotonic(), tid))

    def attach(self, upload) -> None:
        """Stream to ``upload`` from now (what was written before goes first)."""
        self.upload = upload

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._process.start)
        streamed = loop.time()
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), BATCH_INTERVAL)
            except asyncio.TimeoutError:
                pass
            self._send_batch()
            self._read_outbox()
            if loop.time() - streamed >= UPLOAD_INTERVAL:
                streamed = loop.time()
                await self._stream()

    def _batch(self) -> tuple:
        now = time.monotonic()
        for tid, (source, tap, muted) in self._sources.items():
            if source.muted != muted:  # mutes are seen here, within a batch's interval
                self._sources[tid] = (source, tap, source.muted)
                self.events.append(("muted", now, tid, source.muted))
        events, self.events = self.events, []
        return ("batch", now, events)

    def _send_batch(self) -> None:
        batch = self._batch()
        try:
            self._inbox.put_nowait(batch)
        except queue.Full:  # the compositor is behind: drop frames, never wait
            kept = [e for e in batch[2] if e[0] != "frame"]
            self.dropped_frames += len(batch[2]) - len(kept)
            self.events[:0] = kept

    def _read_outbox(self) -> None:
        while True:
            try:
                message = self._outbox.get_nowait()
            except queue.Empty:
                return
            if message[0] == "keyframe":
                self._sources[message[1]][0].request_keyframe()
            elif message[0] == "done":
                self.summary = message[1]
            else:
                self.error = self.error or RecordingFailed(f"{self.name}: {message[1]}")

    async def _stream(self) -> None:
        if self.upload is None or self.error is not None or not os.path.exists(self.file.path):
            return  # no destination yet (the spool keeps it), the upload failed, no file yet
        loop = asyncio.get_running_loop()
        while chunk := await loop.run_in_executor(self._pool, read_at, self.file.path,
                                                  self._sent):
            self._sent += len(chunk)
            try:
                await self.upload.write(chunk)
            except StorageError as exc:  # the spool keeps everything; reported at the end
                logger.warning("recording %s: %s", self.name, exc.message)
                self.error = exc
                return

    async def finish(self) -> None:
        """Stop compositing, wait for the MP4 to close, send the rest, verify."""
        if self.finished:
            return
        self.finished = True
        stop_at, self.ended_at = time.monotonic(), time.time()
        for source, tap, _ in self._sources.values():
            source.taps.discard(tap)
        self.end_seq = self._seq()
        self._stopping.set()
        await self._pump
        await self._conclude(stop_at)
        await self._stream()
        await complete_spool(self, not os.path.exists(self.file.path), self._pool)

    async def _conclude(self, stop_at: float) -> None:
        loop = asyncio.get_running_loop()
        for message in (self._batch(), ("stop", stop_at)):
            deadline = loop.time() + STOP_TIMEOUT
            while True:
                try:
                    self._inbox.put_nowait(message)
                    break
                except queue.Full:
                    if loop.time() > deadline or not self._process.is_alive():
                        break
                    await asyncio.sleep(BATCH_INTERVAL)
        while self.summary is None and self.error is None:
            self._read_outbox()
            if self.summary is None and self.error is None and not self._process.is_alive():
                self._read_outbox()
                self.error = self.error or RecordingFailed(
                    f"{self.name}: the compositor exited ({self._process.exitcode})")
            await asyncio.sleep(BATCH_INTERVAL)
        await loop.run_in_executor(self._pool, self._process.join, 10)
        if self.summary is not None:
            self.codecs, self.duration = self.summary["codecs"], self.summary["durationSeconds"]
        logger.info("composite %s: %d frames dropped at the queue, %s", self.name,
                    self.dropped_frames, self.summary)

    def cancel(self) -> None:
        """Stop at once (node shutdown): the compositor is ended, the spool stays."""
        self.finished = True
        for source, tap, _ in self._sources.values():
            source.taps.discard(tap)
        if self._pump is not None:
            self._pump.cancel()
        if self._process is not None and self._process.is_alive():
            self._process.terminate()

    def manifest_entry(self) -> dict:
        """The composite's entry in the recording's manifest (after :meth:`finish`)."""
        return {**spool_entry(self), "kind": "composite", "codecs": self.codecs}


class CompositeRecording(Recording):
    """A recording of ``output: composite``: one MP4 of the whole stage, with a picture
    unless the room is audio-only when the recording starts.

    :param settings: the composite's picture and threads; the rest as :class:`Recording`.
    """

    def __init__(self, recording_id: str, room, report: Reporter, spool_dir: str,
                 pool: Executor, settings: CompositeSettings) -> None:
        super().__init__(recording_id, room, report, spool_dir, pool)
        self.composite = CompositeWriter(f"{recording_id}/composite.mp4", spool_dir, pool,
                                         lambda: room.last_seq, settings,
                                         video=not room.policy.audio_only)

    def begin(self) -> None:
        self.writers.append(self.composite)
        self.composite.start()
        super().begin()

    def _record(self, source: PublishedTrack) -> None:
        self.composite.add_track(source, source.mime_type.split("/")[-1].lower())
        if self.uploader is not None:  # the note's last seq, for a killed node's endSeq
            self._spawn(self._save_note())

    def _live(self) -> list[dict]:
        """The composite, while it is written: a restarted node finishes it from its
        spool, every whole fragment (:func:`.kept.salvage_live`)."""
        c = self.composite
        if c.finished or c.started_at is None:
            return []
        return [{"name": c.name, "path": c.file.path, "participantId": None,
                 "kind": "composite", "addedAt": c.started_at, "startSeq": c.start_seq}]
