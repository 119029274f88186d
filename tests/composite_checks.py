"""What the composite tests read back from an MP4: the picture's brightness at given
points over time, and the tones in its sound (decoded with PyAV; no numpy)."""
from __future__ import annotations

import math
import struct
from pathlib import Path

import av

RATE = 48000


def luma_at(frame: av.VideoFrame, x: int, y: int, size: int = 8) -> float:
    """Mean luma of the ``size`` x ``size`` block centred on ``(x, y)``."""
    plane = frame.planes[0]
    view, line = memoryview(plane), plane.line_size
    rows = [view[(y + r) * line + x - size // 2:(y + r) * line + x + size // 2]
            for r in range(-size // 2, size // 2)]
    return sum(sum(row) for row in rows) / (size * size)


def picture(path: Path, points: dict[str, tuple[int, int]]) -> list[tuple[float, dict]]:
    """``(time, {name: luma at that point})`` for every video frame of ``path``."""
    with av.open(str(path)) as container:
        return [(frame.time, {name: luma_at(frame, x, y) for name, (x, y) in points.items()})
                for frame in container.decode(video=0)]


def first_time(frames: list[tuple[float, dict]], name: str, test, after: float = 0.0) -> float:
    """The first frame time from ``after`` on when ``test(luma at name)`` holds."""
    return next(t for t, levels in frames if t >= after and test(levels[name]))


def sound(path: Path) -> list[int]:
    """The audio of ``path`` as mono s16 samples at 48 kHz, from time 0."""
    samples: list[int] = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                start = round(out.time * RATE) if out.time is not None else len(samples)
                samples.extend([0] * max(0, start - len(samples)))
                data = bytes(out.planes[0])[:out.samples * 2]
                samples.extend(struct.unpack(f"<{out.samples}h", data))
    return samples


def tones(samples: list[int], threshold: int = 3000, gap: float = 0.05) -> list[dict]:
    """Stretches louder than ``threshold``: ``{start, end, frequency}`` (seconds, Hz, the
    frequency from zero crossings)."""
    found, start, last = [], None, None
    for i, value in enumerate(samples):
        if abs(value) < threshold:
            continue
        if start is not None and i - last > gap * RATE:
            found.append((start, last))
            start = None
        start = i if start is None else start
        last = i
    if start is not None:
        found.append((start, last))
    result = []
    for a, b in found:
        crossings = sum(1 for i in range(a, b) if (samples[i] < 0) != (samples[i + 1] < 0))
        result.append({"start": a / RATE, "end": b / RATE,
                       "frequency": crossings / 2 / max((b - a) / RATE, 1e-9)})
    return result


def level_of(samples: list[int], frequency: float, start: float, end: float) -> float:
    """The amplitude of ``frequency`` in ``samples[start:end]`` (seconds; Goertzel)."""
    window = samples[round(start * RATE):round(end * RATE)]
    coefficient = 2 * math.cos(2 * math.pi * frequency / RATE)
    s1 = s2 = 0.0
    for value in window:
        s1, s2 = value + coefficient * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / max(len(window), 1)
