"""Encoded frames into a file with PyAV, without decoding: the spool on the node's disk.

The muxer writes a real (seekable) file, so it can give the header its final values
when closed: the duration and where the cues are. Those land in the file's first part,
which the uploader holds back until then (:mod:`media_node.storage.base`); the rest
is read back from the spool as it grows and streamed out.
"""
from __future__ import annotations

import fractions
import os
import struct

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


def vp8_size(data: bytes) -> tuple[int, int]:
    """Width and height from a VP8 keyframe's header (RFC 6386 9.1); 0s if not one."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return 0, 0
    return (int.from_bytes(data[6:8], "little") & 0x3FFF,
            int.from_bytes(data[8:10], "little") & 0x3FFF)


class SpooledFile:
    """One track's file on disk, muxed frame by frame (blocking: call off the loop).

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
        self._container = None
        self._stream = None
        self._read = 0  # bytes of the spool handed out so far

    def _open(self, first: Frame) -> None:
        # a cluster a second, each flushed to the spool, so it grows (and streams) as
        # the track is recorded rather than in 32 KiB buffers or 5 s clusters
        self._container = av.open(self.path, "w", format=self.format,
                                  options={"flush_packets": "1"},
                                  container_options={"cluster_time_limit": "1000"})
        if self.codec_name == "opus":
            stream = self._container.add_stream("opus", rate=48000)
            stream.codec_context.layout = "stereo"
        else:
            stream = self._container.add_stream(self.codec_name, rate=NOMINAL_FPS)
            width, height = vp8_size(first.data) if self.codec_name == "vp8" else (0, 0)
            stream.width, stream.height = width or 640, height or 480
            stream.codec_context.pix_fmt = "yuv420p"
        # PyAV opens the stream's codec context for the header; it never encodes
        stream.codec_context.thread_count = 1
        stream.time_base = self.time_base
        self._stream = stream

    def write(self, frames: list[Frame]) -> None:
        """Mux ``frames`` (in order, first one a keyframe for video)."""
        for frame in frames:
            if self._container is None:
                self._open(frame)
                self.first_pts = frame.pts
            packet = av.Packet(frame.data)
            packet.pts = packet.dts = frame.pts
            packet.time_base = self.time_base
            packet.is_keyframe = frame.keyframe
            packet.stream = self._stream
            self._container.mux(packet)
            self.last_pts = frame.pts
            self.frames += 1

    def close(self) -> None:
        """Write the trailer and the header's final values."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def read_new(self, keep: int = 0) -> bytes:
        """Bytes the muxer has flushed to the spool since the last call, less the last
        ``keep`` (a muxer may still revise the end of its output while it is open)."""
        if self.frames == 0 or not os.path.exists(self.path):
            return b""
        end = os.path.getsize(self.path) - keep
        if end <= self._read:
            return b""
        with open(self.path, "rb") as f:
            f.seek(self._read)
            data = f.read(end - self._read)
        self._read += len(data)
        return data

    def read_head(self, size: int) -> bytes:
        """The spool's first ``size`` bytes as they are now (after :meth:`close`)."""
        with open(self.path, "rb") as f:
            return f.read(size)


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
