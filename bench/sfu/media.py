"""Pre-encoded publisher media: generated once with ffmpeg, sent without encoding.

The file is VP8 640x480 at 30 fps and about 0.85 Mbps with a keyframe every 2 s,
plus Opus from a sine; ffmpeg's bitexact flags make it the same file on every run.
"""
from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from aiortc import MediaStreamTrack

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "bench"
SECONDS = 20
VIDEO_FPS = 30
VIDEO_KBPS = 850
AUDIO_FRAME_S = 0.020
# at most one jump to a keyframe per this many seconds, like an encoder's own limit
KEYFRAME_MIN_GAP_S = 0.5

FFMPEG_ARGS = [
    "-f", "lavfi", "-i", f"testsrc2=size=640x480:rate={VIDEO_FPS}",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-t", str(SECONDS), "-map", "0:v", "-map", "1:a",
    "-c:v", "libvpx", "-threads", "1", "-b:v", f"{VIDEO_KBPS}k",
    "-minrate", f"{VIDEO_KBPS}k", "-maxrate", f"{VIDEO_KBPS}k", "-bufsize", f"{VIDEO_KBPS}k",
    "-g", str(2 * VIDEO_FPS), "-keyint_min", str(2 * VIDEO_FPS),
    "-deadline", "realtime", "-cpu-used", "8", "-lag-in-frames", "0",
    "-c:a", "libopus", "-b:a", "32k", "-ac", "2",
    "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
]


def media_path() -> Path:
    """Return the pre-encoded file, generating it on first use."""
    path = CACHE / f"vp8-640x480-{VIDEO_KBPS}k-opus-{SECONDS}s.webm"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.webm")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                        *FFMPEG_ARGS, str(tmp)], check=True)
        tmp.rename(path)
    return path


@dataclass(frozen=True)
class EncodedMedia:
    """The file's packets in memory: video frames with keyframe flags, Opus frames."""

    video: list[bytes]
    keyframes: list[bool]
    audio: list[bytes]

    @classmethod
    def load(cls, path: Path | None = None) -> "EncodedMedia":
        video, keyframes, audio = [], [], []
        with av.open(str(path or media_path())) as container:
            for packet in container.demux():
                if packet.size == 0:
                    continue
                if packet.stream.type == "video":
                    video.append(bytes(packet))
                    keyframes.append(bool(packet.is_keyframe))
                else:
                    audio.append(bytes(packet))
        if not keyframes or not keyframes[0]:
            raise ValueError("the media file must start with a keyframe")
        return cls(video, keyframes, audio)


class PacedPacketTrack(MediaStreamTrack):
    """A track whose recv() returns encoded av.Packets in real time, looping the file.

    aiortc's sender packs an av.Packet without encoding. Timestamps come from a frame
    counter, so they stay continuous across loops and keyframe jumps.
    """

    def __init__(self, kind: str, media: EncodedMedia, start: list[float]):
        super().__init__()
        self.kind = kind
        self._frames = media.video if kind == "video" else media.audio
        self._keyframes = media.keyframes if kind == "video" else None
        self._interval = 1 / VIDEO_FPS if kind == "video" else AUDIO_FRAME_S
        clock = 90000 if kind == "video" else 48000
        self._time_base = Fraction(1, clock)
        self._step = round(clock * self._interval)
        self._start = start  # shared by a publisher's tracks: [monotonic start] once set
        self._count = 0
        self._index = 0
        self._want_keyframe = False
        self._last_jump = float("-inf")
        self.keyframes_sent = 0

    def request_keyframe(self) -> None:
        """Jump to the file's next keyframe soon: our answer to a PLI or FIR."""
        self._want_keyframe = True

    async def recv(self) -> av.Packet:
        if not self._start:
            self._start.append(time.monotonic())
        due = self._start[0] + self._count * self._interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self._maybe_jump()
        data = self._frames[self._index]
        if self._keyframes is not None and self._keyframes[self._index]:
            self.keyframes_sent += 1
        packet = av.Packet(data)
        packet.pts = self._count * self._step
        packet.time_base = self._time_base
        self._count += 1
        self._index = (self._index + 1) % len(self._frames)
        return packet

    def _maybe_jump(self) -> None:
        if not self._want_keyframe or self._keyframes is None:
            return
        now = time.monotonic()
        if self._keyframes[self._index]:
            self._want_keyframe = False
            return
        if now - self._last_jump < KEYFRAME_MIN_GAP_S:
            return  # keep the request until the gap has passed
        self._want_keyframe = False
        self._last_jump = now
        n = len(self._keyframes)
        self._index = next(i % n for i in range(self._index + 1, self._index + n + 1)
                           if self._keyframes[i % n])
