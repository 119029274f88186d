"""Encoded frames into a file with PyAV, without decoding: the spool on the node's disk.

The muxer writes a real (seekable) file, so it can give the header its final values
when closed: the duration and where the cues are. Those land in the file's first part,
which the uploader holds back until then (:mod:`media_node.storage.base`); the rest
is read back from the spool as it grows and streamed out. Every write the muxer makes
goes through :class:`Spool`, which holds them in memory until the pool flushes them (so
the muxing itself can run on the loop) and remembers those that revise bytes already
written, so that a revision of a part already sent is known without reading the file
again.
"""
from __future__ import annotations

import collections
import fractions
import functools
import io
import os
import struct
from dataclasses import dataclass

import av

from .frames import Frame

# codec -> (container format, file extension, content type)
FORMATS = {
    "vp8": ("webm", "webm", "video/webm"),
    "opus": ("webm", "webm", "audio/webm"),
    "h264": ("matroska", "mkv", "video/x-matroska"),
}
# Matroska's default frame duration; ffmpeg derives the stream's frame rate from it, and
# below the real rate it would fold frames onto one tick when decoding (WebRTC sends <= 30)
NOMINAL_FPS = 30
# the muxer's I/O buffer: a second's cluster of a ~2 Mbps track reaches the spool in one
# write (FFmpeg's 32 KiB took four for a 0.85 Mbps camera, each a syscall on the thread)
IO_BUFFER = 256 * 1024


def vp8_size(data: bytes) -> tuple[int, int]:
    """Width and height from a VP8 keyframe's header (RFC 6386 9.1); 0s if not one."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return 0, 0
    return (int.from_bytes(data[6:8], "little") & 0x3FFF,
            int.from_bytes(data[8:10], "little") & 0x3FFF)


@dataclass(frozen=True)
class Revision:
    """A write below the end of the spool: bytes ``[start, end)`` written again when the
    first ``handed`` bytes had been handed out to the upload."""

    start: int
    end: int
    handed: int


class Spool:
    """The spool file as the muxer writes it (a file object PyAV muxes into).

    While :attr:`buffered` (from the start), the muxer's writes at the end of the file are
    held in memory, so that muxing can run on the loop without ever waiting on the disk;
    :meth:`flush` (in the pool) puts them on the disk, in order. The first write below
    the end (the trailer's revision of the header, at close) flushes everything and stops
    buffering: from then on every write goes straight to the disk, unbuffered as with
    FFmpeg's own file protocol. A write below the end of what was written is kept as a
    :class:`Revision`.

    :param path: the file, created or truncated.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "w+b", buffering=0)  # noqa: SIM115 (closed by close())
        self.size = 0
        self.handed = 0  # bytes handed to the upload (advanced by the reader)
        self.revisions: list[Revision] = []
        self.buffered = True
        self._position = 0
        self.on_disk = 0  # bytes [0, on_disk) are on the disk, the rest in _held
        self._held: collections.deque[bytes] = collections.deque()

    def write(self, data) -> int:
        size = len(data)
        if self.buffered and self._position == self.size:
            self._held.append(bytes(data))  # PyAV hands a bytes object: no copy
            self.size = self._position = self.size + size
            return size
        self.unbuffer()
        start = self._position
        self._write_at(memoryview(data), start)
        end = self._position = start + size
        if start < self.size:
            self.revisions.append(Revision(start, min(end, self.size), self.handed))
        self.size = self.on_disk = max(self.size, end)
        return size

    def _write_at(self, view: memoryview, offset: int) -> None:
        while view:
            written = os.pwrite(self._file.fileno(), view, offset)
            view, offset = view[written:], offset + written

    def flush(self) -> None:
        """Put the writes held in memory on the disk (blocking: in the pool)."""
        while self._held:
            chunk = self._held[0]
            self._write_at(memoryview(chunk), self.on_disk)
            self.on_disk += len(chunk)
            self._held.popleft()

    def unbuffer(self) -> None:
        """Flush, and write straight to the disk from now on."""
        self.flush()
        self.buffered = False

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self.unbuffer()
        self._file.close()

    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` of what is on the disk (fewer at its end): by
        ``pread`` on the open file, or from the path once closed."""
        if self._file.closed:
            with open(self.path, "rb") as f:
                f.seek(offset)
                return f.read(size)
        size = min(size, self.on_disk - offset)
        chunks = []
        while size > 0 and (chunk := os.pread(self._file.fileno(), size, offset)):
            chunks.append(chunk)
            offset += len(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def sent_part_revised(self, head_size: int) -> Revision | None:
        """The first revision of bytes handed out beyond the first ``head_size`` (the
        held-back first part, which may change until completion), if any."""
        return next((r for r in self.revisions
                     if max(r.start, head_size) < min(r.end, r.handed)), None)


@functools.cache
def _vp8_template() -> av.video.stream.VideoStream:
    """A VP8 stream of a container never started, that files' streams are made from.

    PyAV opens an ``add_stream`` stream's encoder when the header is written: libvpx's
    takes 5-7 ms of CPU, for a file that never encodes. A stream made from this template
    is not opened, and the file it gives is the same to the byte but for its random
    track UID (checked in the tests). Opus keeps its encoder, which is cheap and writes
    the ``OpusHead`` that WebM needs.
    """
    return av.open(io.BytesIO(), "w", format="webm").add_stream("vp8", rate=NOMINAL_FPS)


class SpooledFile:
    """One track's file on disk, muxed batch by batch into its spool's memory.

    Opening it (the first :meth:`write`: the header, and for H.264 an encoder opened for
    its codec data), :meth:`flush`, :meth:`read_new` and :meth:`close` block on the disk
    or cost milliseconds: call them off the loop. Once :attr:`opened`, :meth:`write`
    touches only memory.

    :param path: the spool file (created on the first frame).
    :param codec_name: ``vp8``, ``h264`` or ``opus``.
    :param clock_rate: the frames' ``pts`` unit is ``1/clock_rate``.
    """

    def __init__(self, path: str, codec_name: str, clock_rate: int) -> None:
        self.path = path
        self.codec_name = codec_name
        self.time_base = fractions.Fraction(1, clock_rate)
        self.format, _, self.content_type = FORMATS[codec_name]
        self.frames = 0
        self.first_pts: int | None = None
        self.last_pts = 0
        self.end_pts: int | None = None  # the last packet's end, when its duration is known
        self._container = None
        self._stream = None
        self._spool: Spool | None = None

    def _open(self, first: Frame) -> None:
        # a cluster a second, each flushed to the spool, so it grows (and streams) as
        # the track is recorded rather than in 32 KiB buffers or 5 s clusters
        self._spool = Spool(self.path)
        self._container = av.open(self._spool, "w", format=self.format,
                                  options={"flush_packets": "1"},
                                  container_options={"cluster_time_limit": "1000"},
                                  buffer_size=IO_BUFFER)
        if self.codec_name == "opus":
            stream = self._container.add_stream("opus", rate=48000)
            stream.codec_context.layout = "stereo"
        elif self.codec_name == "vp8":  # from a template: no encoder is opened for it
            stream = self._container.add_stream_from_template(_vp8_template())
            width, height = vp8_size(first.data)
            stream.codec_context.width, stream.codec_context.height = width or 640, height or 480
            stream.codec_context.pix_fmt = "yuv420p"
        else:  # H.264: the opened encoder gives the header's codec private data
            stream = self._container.add_stream(self.codec_name, rate=NOMINAL_FPS)
            stream.width, stream.height = 640, 480
            stream.codec_context.pix_fmt = "yuv420p"
        # PyAV opens a stream's codec context (not a template's) for the header; it never
        # encodes
        stream.codec_context.thread_count = 1
        stream.time_base = self.time_base
        self._stream = stream

    @property
    def opened(self) -> bool:
        """Whether the file has its header (a write then only muxes into memory)."""
        return self._container is not None

    def write(self, frames: list[Frame]) -> None:
        """Mux ``frames`` (in order, first one a keyframe for video) into the spool's
        memory (see :meth:`flush`)."""
        if not frames:
            return
        if self._container is None:
            self._open(frames[0])
            self.first_pts = frames[0].pts
        packet_of, time_base, stream = av.Packet, self.time_base, self._stream
        packets = []
        for frame in frames:
            packet = packet_of(frame.data)
            packet.pts = packet.dts = frame.pts
            packet.time_base = time_base
            if frame.keyframe:  # a new packet is not one
                packet.is_keyframe = True
            if frame.duration:
                packet.duration = frame.duration
            packet.stream = stream
            packets.append(packet)
        self._container.mux(packets)
        last = frames[-1]
        self.last_pts = last.pts
        self.end_pts = last.pts + last.duration if last.duration else None
        self.frames += len(frames)

    def flush(self) -> None:
        """Put what the muxer has written on the disk (blocking)."""
        if self._spool is not None:
            self._spool.flush()

    def close(self) -> None:
        """Write the trailer and the header's final values (all on the disk)."""
        if self._container is not None:
            self._container.close()
            self._container = None
            self._spool.close()

    def sent_part_revised(self, head_size: int) -> Revision | None:
        """A revision of bytes already handed out beyond the first ``head_size``
        (see :meth:`Spool.sent_part_revised`); None if none, or nothing was written."""
        return self._spool.sent_part_revised(head_size) if self._spool else None

    def read_new(self, keep: int = 0) -> bytes:
        """Bytes put on the disk (:meth:`flush`) since the last call, less the last
        ``keep`` (a muxer may still revise the end of its output while it is open)."""
        if self.frames == 0 or self._spool is None:
            return b""
        spool = self._spool
        end = spool.on_disk - keep
        if end <= spool.handed:
            return b""
        data = spool.read(spool.handed, end - spool.handed)
        spool.handed += len(data)
        return data


def salvage(path: str, out_path: str) -> tuple[str, int, float]:
    """Remux a spool whose muxer never closed (its node was killed) into a finished file
    at ``out_path``: every whole packet, then the trailer and the header's final values.

    Blocking. Returns the codec, the packets kept and the seconds they span (0 packets:
    nothing was recorded, and no file is written).
    """
    with av.open(path) as source:
        stream = source.streams[0]
        codec = stream.codec_context.name
        packets, first, last = [], None, None
        try:
            for packet in source.demux(stream):
                if packet.dts is None or packet.pts is None:
                    continue  # the demuxer's flush packet
                packets.append(packet)
                first = packet.pts if first is None else first
                last = packet.pts
        except (av.FFmpegError, EOFError):
            pass  # a cluster cut off by the kill: what came before it is whole
        if not packets:
            return codec, 0, 0.0
        with av.open(out_path, "w", format=FORMATS[codec][0]) as out:
            target = out.add_stream_from_template(stream)
            for packet in packets:
                packet.stream = target
                out.mux(packet)
        span = float((last - first) * stream.time_base)
    return codec, len(packets), round(span + (span / (len(packets) - 1)
                                              if len(packets) > 1 else 0.0), 3)


def whole_fragments(path: str) -> int:
    """The length of the fragmented MP4 at ``path`` that is whole: its header and every
    complete ``moof`` + ``mdat`` pair, up to the first box cut off (0 if there is no
    whole fragment). Blocking."""
    size, offset, end, header, fragment = os.path.getsize(path), 0, 0, False, False
    with open(path, "rb") as f:
        while offset + 8 <= size:
            f.seek(offset)
            length, kind = struct.unpack(">I4s", f.read(8))
            if length == 1:  # a 64-bit size follows the type
                length = struct.unpack(">Q", f.read(8))[0] if offset + 16 <= size else 0
            if length < 8 or offset + length > size:
                break  # cut off by the kill (or a size 0 box: "to the end", not whole)
            header |= kind == b"moov"
            if kind == b"moof":
                fragment = True
            elif kind == b"mdat" and fragment:
                fragment, end = False, offset + length
            elif kind == b"mfra":  # the index a closed file ends with
                end = offset + length
            offset += length
    return end if header else 0


def salvage_fragments(path: str, out_path: str) -> tuple[list[str], int, float]:
    """Remux a fragmented MP4 whose muxer never closed (its compositor was killed) into
    a finished MP4 at ``out_path``: every whole fragment kept, one cut off dropped (the
    spool is truncated to its whole fragments first).

    Blocking. Returns the codecs (in stream order), the packets kept and the seconds
    they span from the file's time 0 (0 packets: no file is written).
    """
    end = whole_fragments(path)
    if end == 0:
        return [], 0, 0.0
    os.truncate(path, end)
    with av.open(path) as source:
        streams = [s for s in source.streams if s.type in ("video", "audio")]
        codecs = [s.codec_context.name for s in streams]
        packets = []
        try:
            for packet in source.demux(streams):
                if packet.dts is not None and packet.pts is not None:  # not a flush packet
                    packets.append(packet)
        except (av.FFmpegError, EOFError):
            pass  # what came before is whole
        if not packets:
            return codecs, 0, 0.0
        ends = [float((p.pts + (p.duration or 0)) * p.time_base) for p in packets]
        with av.open(out_path, "w", format="mp4") as out:
            targets = {s.index: out.add_stream_from_template(s) for s in streams}
            for packet in packets:
                packet.stream = targets[packet.stream.index]
                out.mux(packet)
    return codecs, len(packets), round(max(ends), 3)
