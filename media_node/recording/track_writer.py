"""One published track recorded to one file, streamed to the bucket while it grows.

On the loop, a writer's tap (:attr:`TrackWriter.on_frame`) is its queue's ``append``:
the frame the track hands every tap (its RTP payloads and arrival) is queued with no
Python call of ours. Every :data:`FLUSH_INTERVAL` seconds, on a clock that all the
node's writers share (:mod:`.batches`), the queue is depayloaded (in C) and muxed into
the spool's memory, on the loop, in turns of about a millisecond; then one job of the
recording's thread pool puts every writer's new bytes on the disk and reads back what
to send. The bytes are appended to the upload, and a part that fills is sent (the SDK's
calls run in the uploader's own pool). Opening a file and closing it, which write its
header and trailer, run in the pool. Nothing here waits on the disk or the network on
the loop.

Why on the loop: measured on the node (``bench/recording.py``), muxing in the pool cost
the process more than the pool's own CPU time, on the forwarding thread
(``docs/media-node.md``, Measured).
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from concurrent.futures import Executor
from datetime import datetime, timezone
from typing import Callable

import av

from ..sfu.forwarding import PublishedTrack, TappedFrame
from ..storage.base import ObjectUpload, Part, StoredObject
from ..storage.errors import StorageError, VerificationFailed
from .batches import MuxClock
from .frames import FrameAssembler
from .opus import OpusJoiner
from .remux import FORMATS, SpooledFile

logger = logging.getLogger(__name__)
FLUSH_INTERVAL = 2.0  # seconds between muxing batches (a killed node loses at most this)
MAX_QUEUED = 3000  # frames (about 60 s of audio): beyond it the oldest are dropped
TAIL_KEPT = 64 * 1024  # spool bytes not streamed until the muxer closes (it may revise them)


class RecordingFailed(StorageError):
    """The file itself could not be written (the node's disk, the muxer)."""

    reason = "recording_failed"


def iso(at: float) -> str:
    """A wall-clock time as ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


class TrackWriter:
    """Records ``source`` from now until :meth:`finish` (or the track ends).

    :param source: the published track (its codec: VP8, H.264 or Opus).
    :param name: the object name under the destination's prefix, without extension.
    :param spool_dir: where the file is written on the node's disk.
    :param pool: the thread pool that opens, writes, reads and closes spool files.
    :param seq: the room's last event sequence number seen (``startSeq``/``endSeq``).
    :param on_ended: called when the track ends by itself (its speaker left).
    :param clock: the node's writers' shared clock on ``pool`` (default: this writer's
        own, ticking every :data:`FLUSH_INTERVAL` s).
    """

    def __init__(self, source: PublishedTrack, name: str, spool_dir: str, pool: Executor,
                 seq: Callable[[], int], on_ended: Callable[["TrackWriter"], None],
                 clock: MuxClock | None = None) -> None:
        self.source = source
        codec = source.mime_type.split("/")[-1].lower()
        _, ext, _ = FORMATS[codec]
        self.name = f"{name}.{ext}"
        self.assembler = FrameAssembler(codec)
        # Opus is written in packets of up to 100 ms: a fifth of the packets to mux
        self.joiner = OpusJoiner() if codec == "opus" else None
        self.file = SpooledFile(os.path.join(spool_dir, self.name.replace("/", "_")), codec,
                                self.assembler.clock_rate)
        self.upload: ObjectUpload | None = None
        self.error: StorageError | None = None
        self.stored: StoredObject | None = None
        self.sha256 = ""
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.start_seq = seq()
        self.end_seq: int | None = None
        self._seq = seq
        self._pool = pool
        self._clock = clock or MuxClock(pool, FLUSH_INTERVAL)
        self._on_ended = on_ended
        self._queue: list[TappedFrame] = []
        # the tap: the track calls it with each frame, on the loop (a C method: nothing
        # of ours runs per frame; the queue is bounded at each tick, see waiting())
        self.on_frame: Callable[[TappedFrame], None] = self._queue.append
        self.in_flight: asyncio.Future | None = None  # the clock's batch being muxed
        self._sender: asyncio.Task | None = None  # sends full parts while recording
        self.finished = False
        self._cancelled = False

    @property
    def kind(self) -> str:
        """``audio`` or ``video``."""
        return self.source.kind

    def start(self) -> None:
        """Attach to the track: frames are spooled from now on, uploaded once
        :meth:`attach` gives the upload."""
        self.source.taps.add(self)
        self.source.request_keyframe()  # video files start on a keyframe
        self._clock.add(self)

    def attach(self, upload: ObjectUpload) -> None:
        """Stream to ``upload`` from now (what was spooled before goes first)."""
        self.upload = upload

    def on_close(self) -> None:
        self.end_seq = self._seq()
        self._on_ended(self)

    def take_batch(self) -> tuple[Callable, tuple]:
        """The clock's turn for this writer, on the loop: once the file is open, the
        frames queued since the last turn are depayloaded and muxed into the spool's
        memory here. Returns the call for the pool: the spool flushed and the bytes to
        send read back, or for a file not yet open, all of it (opening writes its header
        and, for H.264, opens an encoder for its codec data)."""
        batch = self._take_queued()
        if isinstance(self.error, RecordingFailed):  # the file cannot be written (the
            return _nothing, ()  # disk refused what is held): nothing more is muxed
        if self.file.opened:
            self._write(batch, False)
            return self._spill, (False,)
        return self._mux, (batch, False)

    def waiting(self) -> None:
        """The clock's tick while the last batch is still in flight: beyond
        :data:`MAX_QUEUED` frames the oldest half is dropped, never waited for."""
        if len(self._queue) > MAX_QUEUED:
            del self._queue[:len(self._queue) // 2]

    def _take_queued(self) -> list[TappedFrame]:
        # the queue's list stays (the tap is its append): its frames are moved out
        batch = self._queue[:]
        self._queue.clear()
        return batch

    def _write(self, batch: list, final: bool) -> None:
        # depayload and mux into the spool's memory
        frames, first_at, last_at = self.assembler.push_all(batch)
        if frames:
            self.started_at = self.started_at or first_at
            self.ended_at = last_at
        if self.joiner is not None:
            frames = self.joiner.push(frames) + (self.joiner.flush() if final else [])
        self.file.write(frames)

    def _spill(self, final: bool) -> bytes:
        # in the pool: close the file if final, put it on the disk, read what to send
        if final:
            self.file.close()
        self.file.flush()
        if self.upload is None:  # no destination yet: the spool keeps it until there is
            return b""
        return self.file.read_new(keep=0 if final else TAIL_KEPT)

    def _mux(self, batch: list, final: bool) -> bytes:
        # in the pool: all of a batch's work
        self._write(batch, final)
        return self._spill(final)

    def muxed(self, ok: bool, value) -> None:
        """A batch muxed (``value``: the bytes to send) or not (``value``: why), on the
        loop: the bytes are appended to the upload, and a part that fills is sent by a
        task of its own."""
        if self._cancelled:
            return
        if not ok:
            self._failed(value)
            return
        if self.assembler.needs_keyframe:
            self.source.request_keyframe()
        if value and self.error is None and self.upload.append(value) and \
                (self._sender is None or self._sender.done()):
            self._sender = asyncio.ensure_future(self._send_parts())

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, (av.FFmpegError, OSError)):  # a full disk, a muxer that refuses
            logger.error("recording %s: %s", self.name, exc)
        else:
            logger.error("recording %s failed", self.name, exc_info=exc)
        self.error = self.error or RecordingFailed(f"{self.name}: {exc}")

    async def _send_parts(self) -> None:
        try:
            await self.upload.send_ready()
        except StorageError as exc:  # the spool keeps everything; reported at the end
            logger.warning("recording %s: %s", self.name, exc.message)
            self.error = self.error or exc

    async def finish(self) -> None:
        """Stop recording, close the file, send its first part and tail, verify.

        Sets :attr:`stored` (uploaded: the spool is deleted) or :attr:`error` (the spool
        stays); a track that never sent a frame leaves no file at all.
        """
        if self.finished:
            return
        self.finished = True
        self.source.taps.discard(self)
        if self.end_seq is None:
            self.end_seq = self._seq()
        self._clock.discard(self)
        if self.in_flight is not None:  # the clock's last batch first
            await self.in_flight
        try:
            data = await asyncio.get_running_loop().run_in_executor(
                self._pool, self._mux, self._take_queued(), True)
        except Exception as exc:  # noqa: BLE001 (reported as the file's failure)
            self._failed(exc)
            data = b""
        if self._sender is not None:
            await self._sender
        if data and self.error is None:
            self.upload.append(data)
            await self._send_parts()
        await complete_spool(self, self.file.frames == 0, self._pool)

    def cancel(self) -> None:
        """Stop at once (node shutdown): the spool stays on disk."""
        self.finished = self._cancelled = True
        self.source.taps.discard(self)
        self._clock.discard(self)
        if self._sender is not None:
            self._sender.cancel()

    @property
    def duration(self) -> float:
        """Seconds from the first frame's start to the last frame's end."""
        if self.file.first_pts is None:
            return 0.0
        if self.file.end_pts is not None:  # the last packet's duration is known (Opus)
            return round((self.file.end_pts - self.file.first_pts) / self.assembler.clock_rate, 3)
        frames = self.file.frames
        span = (self.file.last_pts - self.file.first_pts) / self.assembler.clock_rate
        return round(span + (span / (frames - 1) if frames > 1 else 0.0), 3)

    def manifest_entry(self) -> dict:
        """The file's entry in the recording's manifest (after :meth:`finish`)."""
        return {**spool_entry(self), "kind": self.kind, "codecs": [self.assembler.codec_name],
                "participantId": self.source.publisher_id}


def _nothing() -> bytes:
    return b""


def spool_entry(writer) -> dict:
    """The manifest fields every writer's file has (``uri``, ``bytes``, checksums,
    duration, times and seqs); ``writer`` is a :class:`TrackWriter` or alike."""
    stored = writer.stored
    return {
        "uri": stored.uri if stored else None,
        "bytes": stored.bytes if stored else os.path.getsize(writer.file.path),
        "sha256": writer.sha256,
        "etag": stored.etag if stored else None,
        "durationSeconds": writer.duration,
        "startedAt": iso(writer.started_at) if writer.started_at else None,
        "endedAt": iso(writer.ended_at) if writer.ended_at else None,
        "startSeq": writer.start_seq,
        "endSeq": writer.end_seq,
    }


async def complete_spool(writer, empty: bool, pool: Executor) -> None:
    """A closed spool file to its object: the first part and tail sent, completed,
    verified, the spool deleted; or the upload aborted and the spool kept.

    The file's sha256 is one pass over the spool (its header was final only at close),
    run while the first part and the tail are sent, so the pass only adds to the time to
    completion what outlasts them. That no part already sent was revised is known from the
    muxer's writes (:meth:`~.remux.SpooledFile.sent_part_revised`) where the writer's file
    tracks them, else checked against the spool in the same pass.

    Sets ``writer.stored`` and ``writer.sha256``, or ``writer.error`` (the spool stays);
    an ``empty`` file, or one with no upload (the destination never came), leaves
    nothing. ``writer`` has ``upload``, ``file.path``, ``error``, ``sha256``, ``stored``.
    """
    loop = asyncio.get_running_loop()
    path = writer.file.path
    if writer.upload is None or empty:
        if writer.upload is not None:
            await writer.upload.abort()
        await loop.run_in_executor(pool, remove_spool, path)
        return
    upload = writer.upload
    digest = None
    try:
        if writer.error is not None:
            raise writer.error
        head_size = upload.first_part_size
        tracked = getattr(writer.file, "sent_part_revised", None)
        if tracked is not None:
            revised = tracked(head_size)
            if revised is not None:
                raise VerificationFailed(f"{path}: bytes {revised.start}-{revised.end} "
                                         "changed after they were sent")
        parts = [] if tracked is not None else list(upload.parts)
        head = await loop.run_in_executor(pool, read_head, path, head_size)
        digest = loop.run_in_executor(pool, _digest, path, parts, upload.uploader.part_size)
        writer.stored = await upload.complete(head, digest)
        writer.sha256 = digest.result()
        await loop.run_in_executor(pool, remove_spool, path)
    except StorageError as exc:
        writer.error = exc
        if digest is not None:
            with contextlib.suppress(StorageError):
                writer.sha256 = await digest
        if not writer.sha256:
            writer.sha256 = await loop.run_in_executor(pool, _digest, path, [], 1 << 20)
        try:
            await upload.abort()
        except StorageError as abort_error:
            logger.warning("recording %s: abort failed: %s", writer.name, abort_error.message)


def _digest(path: str, parts: list[Part], part_size: int) -> str:
    """The spool's sha256, and a check that none of ``parts`` (sent already) has changed
    (``parts`` empty: nothing to check, the muxer's writes say so)."""
    sha256 = hashlib.sha256()
    sent = {p.number: p.md5 for p in parts if p.number > 1}
    with open(path, "rb") as f:
        number = 1
        while block := f.read(part_size):
            sha256.update(block)
            if number in sent and hashlib.md5(block).digest() != sent[number]:
                raise VerificationFailed(f"{path}: part {number} changed after it was sent")
            number += 1
    return sha256.hexdigest()


def read_head(path: str, size: int) -> bytes:
    """The spool's first ``size`` bytes (the first part, as final)."""
    with open(path, "rb") as f:
        return f.read(size)


def remove_spool(path: str) -> None:
    """Delete a spool file (once its object is confirmed in the bucket)."""
    if os.path.exists(path):
        os.remove(path)
