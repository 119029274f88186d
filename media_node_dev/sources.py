"""Synthetic publishers that send encoded media (tests and benchmarks).

Each track encodes a tiny synthetic picture or tone itself and returns
:class:`av.Packet`, so aiortc's sender only packetizes it; every packet sent is kept
in ``sent`` so a receiver can check that the node forwarded the same bytes.
Video honours keyframe requests relayed to it by :func:`media_node_dev.client.WhipClient`.
"""
from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time

import av
from aiortc import MediaStreamTrack
from av.video.frame import PictureType

VIDEO_CLOCK = fractions.Fraction(1, 90000)


class _PacedTrack(MediaStreamTrack):
    def __init__(self, rate: float) -> None:
        super().__init__()
        self._period = 1.0 / rate
        self._start: float | None = None
        self._index = 0
        self.sent: list[tuple[float, bytes, bool]] = []  # (time, payload, keyframe)

    async def _pace(self) -> int:
        if self._start is None:
            self._start = time.monotonic()
        index = self._index
        self._index += 1
        delay = self._start + index * self._period - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return index


class EncodedVideoSource(_PacedTrack):
    """VP8 (or H.264) at ``fps``, keyframes only at start and on request (PLIs are visible)."""

    kind = "video"

    def __init__(self, width: int = 160, height: int = 120, fps: int = 30,
                 codec_name: str = "vp8") -> None:
        super().__init__(fps)
        codec = av.CodecContext.create({"vp8": "libvpx", "h264": "libx264"}[codec_name], "w")
        codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
        codec.time_base = fractions.Fraction(1, fps)
        codec.framerate = fps
        codec.bit_rate = 300_000
        codec.gop_size = 1_000_000
        codec.thread_count = 1  # FFmpeg's default thread count is 20x slower here
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"} \
            if codec_name == "vp8" else {"preset": "ultrafast", "tune": "zerolatency",
                                         "profile": "baseline"}
        self._codec = codec
        self._fps = fps
        self._force_keyframe = False
        self.keyframe_requests: list[float] = []
        self._pictures = [self._picture(width, height, i) for i in range(fps)]

    @staticmethod
    def _picture(width: int, height: int, shift: int) -> list[bytes]:
        luma = bytes((x + shift * 8) % 256 for x in range(width)) * height
        chroma = bytes([128]) * (width // 2 * height // 2)
        return [luma, chroma, chroma]

    def request_keyframe(self) -> None:
        """Called when a PLI/FIR reaches this publisher."""
        self.keyframe_requests.append(time.monotonic())
        self._force_keyframe = True

    async def recv(self) -> av.Packet:
        while True:
            index = await self._pace()
            for packet in _encode(self, self._pictures[index % self._fps], index):
                payload = bytes(packet)
                self.sent.append((time.monotonic(), payload, bool(packet.is_keyframe)))
                out = av.Packet(payload)
                out.pts = index * (90000 // self._fps)
                out.time_base = VIDEO_CLOCK
                return out


def _encode(track, planes, index: int) -> list[av.Packet]:
    """Encode one yuv420p picture with ``track._codec``; a keyframe if one was asked for."""
    frame = av.VideoFrame(track._codec.width, track._codec.height, "yuv420p")
    for plane, data in zip(frame.planes, planes):
        plane.update(data)
    frame.pts = index
    if track._force_keyframe:
        track._force_keyframe = False
        frame.pict_type = PictureType.I
    return track._codec.encode(frame)


class EncodedAudioSource(_PacedTrack):
    """Opus, 20 ms frames, 48 kHz stereo."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__(50)
        codec = av.CodecContext.create("libopus", "w")
        codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
        codec.time_base = fractions.Fraction(1, 48000)
        self._codec = codec
        self._tones = [bytes((k * (3 + i)) % 256 for k in range(960 * 4)) for i in range(8)]

    async def recv(self) -> av.Packet:
        while True:
            index = await self._pace()
            frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
            frame.sample_rate = 48000
            frame.planes[0].update(self._tones[(index // 25) % len(self._tones)])
            frame.pts = index * 960
            for packet in self._codec.encode(frame):
                payload = bytes(packet)
                self.sent.append((time.monotonic(), payload, True))
                out = av.Packet(payload)
                out.pts = index * 960
                out.time_base = fractions.Fraction(1, 48000)
                return out


class Cue:
    """When a speaker flashes and sounds, on the machine's monotonic clock.

    Both of a speaker's tracks are paced from ``origin`` (frame ``i`` is captured at
    ``origin + i / rate``), so their RTP timestamps carry the source's own A/V timing;
    the times may be set while the tracks run.
    """

    def __init__(self, origin: float, frequency: float, level: int = 60) -> None:
        self.origin = origin
        self.frequency = frequency
        self.level = level  # the picture's grey outside the flash
        self.flash_at = self.tone_at = float("inf")
        self.length = 0.4  # seconds of white, and of tone

    def on_frame_grid(self, at: float, fps: int = 30) -> float:
        """The first video frame time at or after ``at``."""
        return self.origin + -(-(at - self.origin) * fps // 1) / fps


class _CuedTrack(MediaStreamTrack):
    def __init__(self, cue: Cue, rate: float) -> None:
        super().__init__()
        self.cue, self._rate = cue, rate
        self._index: int | None = None

    async def _next(self) -> tuple[int, float]:
        if self._index is None:  # start at the next slot: never a burst to catch up
            self._index = int((time.monotonic() - self.cue.origin) * self._rate) + 1
        index, self._index = self._index, self._index + 1
        at = self.cue.origin + index / self._rate
        if at > time.monotonic():
            await asyncio.sleep(at - time.monotonic())
        return index, at


class FlashVideoSource(_CuedTrack):
    """VP8 of a flat grey picture that turns white for ``cue.length`` from ``cue.flash_at``;
    a keyframe every second and on request."""

    kind = "video"

    def __init__(self, cue: Cue, width: int = 320, height: int = 240, fps: int = 30) -> None:
        super().__init__(cue, fps)
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
        codec.time_base, codec.framerate = fractions.Fraction(1, fps), fps
        codec.bit_rate, codec.gop_size, codec.thread_count = 300_000, fps, 1
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self._codec, self._fps = codec, fps
        self._force_keyframe = False
        self._planes = {level: [bytes([level]) * (width * height),
                                bytes([128]) * (width * height // 4)] for level in
                        (cue.level, 235)}

    def request_keyframe(self) -> None:
        self._force_keyframe = True

    async def recv(self) -> av.Packet:
        while True:
            index, at = await self._next()
            white = self.cue.flash_at <= at + 1e-6 < self.cue.flash_at + self.cue.length
            luma, chroma = self._planes[235 if white else self.cue.level]
            for packet in _encode(self, (luma, chroma, chroma), index):
                out = av.Packet(bytes(packet))
                out.pts, out.time_base = index * (90000 // self._fps), VIDEO_CLOCK
                return out


class ToneAudioSource(_CuedTrack):
    """Opus, silent but for a sine of ``cue.frequency`` for ``cue.length`` from
    ``cue.tone_at`` (to the sample)."""

    kind = "audio"

    def __init__(self, cue: Cue) -> None:
        super().__init__(cue, 50)
        codec = av.CodecContext.create("libopus", "w")
        codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
        codec.time_base = fractions.Fraction(1, 48000)
        self._codec = codec

    def _samples(self, at: float) -> bytes:
        out = bytearray(960 * 4)
        if not self.cue.tone_at - 0.02 < at < self.cue.tone_at + self.cue.length:
            return bytes(out)
        for i in range(960):
            t = at + i / 48000 - self.cue.tone_at
            if 0 <= t < self.cue.length:
                value = int(10000 * math.sin(2 * math.pi * self.cue.frequency * t))
                out[i * 4:i * 4 + 4] = struct.pack("<hh", value, value)
        return bytes(out)

    async def recv(self) -> av.Packet:
        while True:
            index, at = await self._next()
            frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
            frame.sample_rate = 48000
            frame.planes[0].update(self._samples(at))
            frame.pts = index * 960
            for packet in self._codec.encode(frame):
                out = av.Packet(bytes(packet))
                out.pts, out.time_base = index * 960, fractions.Fraction(1, 48000)
                return out
