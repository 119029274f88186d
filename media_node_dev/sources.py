"""Synthetic publishers that send encoded media (tests and benchmarks).

Each track encodes a tiny synthetic picture or tone itself and returns
:class:`av.Packet`, so aiortc's sender only packetizes it; every packet sent is kept
in ``sent`` so a receiver can check that the node forwarded the same bytes.
Video honours keyframe requests relayed to it by :func:`media_node_dev.client.WhipClient`.
"""
from __future__ import annotations

import asyncio
import fractions
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
            frame = av.VideoFrame(self._codec.width, self._codec.height, "yuv420p")
            for plane, data in zip(frame.planes, self._pictures[index % self._fps]):
                plane.update(data)
            frame.pts = index
            if self._force_keyframe:
                self._force_keyframe = False
                frame.pict_type = PictureType.I
            for packet in self._codec.encode(frame):
                payload = bytes(packet)
                self.sent.append((time.monotonic(), payload, bool(packet.is_keyframe)))
                out = av.Packet(payload)
                out.pts = index * (90000 // self._fps)
                out.time_base = VIDEO_CLOCK
                return out


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
