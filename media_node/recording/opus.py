"""Consecutive Opus frames joined into one packet, without decoding (RFC 6716, 3.2.5).

WebRTC sends Opus as one 20 ms frame per packet, 50 packets a second, and muxing a
packet costs about what muxing a video frame does. So a recorded Opus track is written
in packets of up to :data:`MAX_SAMPLES` (100 ms): consecutive frames of one
configuration become one "code 3" packet (a frame count, then each frame's length unless
all are equal, then the frames as they came). A decoder gets exactly the frames the
speaker sent; only their grouping into the file's blocks changes. A gap in the timeline
(a mute, DTX), a change of configuration or a packet that is not a single frame ends a
group, so the timeline stays as it came.
"""
from __future__ import annotations

from . import native
from .frames import Frame

MAX_SAMPLES = 4800  # 100 ms at 48 kHz per packet (Opus allows 120 ms)
MAX_FRAMES = 48  # the frame count's 6 bits allow 48 frames of 2.5 ms
MAX_FRAME_BYTES = 1275  # the largest Opus frame


def frame_samples(toc: int) -> int:
    """Samples at 48 kHz of one frame of a packet whose TOC byte is ``toc``."""
    config = toc >> 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        return (480, 960, 1920, 2880)[config & 3]
    if config < 16:  # hybrid: 10, 20 ms
        return (480, 960)[config & 1]
    return (120, 240, 480, 960)[config & 3]  # CELT: 2.5, 5, 10, 20 ms


_SAMPLES = [frame_samples(config << 3) for config in range(32)]


def _length(size: int) -> bytes:
    # a frame length: one byte below 252, else two (RFC 6716 3.2.1)
    if size < 252:
        return bytes([size])
    first = 252 + (size & 3)
    return bytes([first, (size - first) >> 2])


def join(frames: list[Frame]) -> Frame:
    """One packet of ``frames`` (single-frame packets of one TOC, consecutive)."""
    toc = frames[0].data[0]
    if len(frames) == 1:
        return Frame(frames[0].pts, frames[0].data, True, frame_samples(toc))
    bodies = [f.data[1:] for f in frames]
    count = len(bodies)
    if len(set(map(len, bodies))) == 1:
        header = bytes([(toc & 0xFC) | 3, count])  # CBR: equal lengths, none written
    else:
        header = bytes([(toc & 0xFC) | 3, 0x80 | count]) + b"".join(
            _length(len(b)) for b in bodies[:-1])
    return Frame(frames[0].pts, header + b"".join(bodies), True,
                 count * frame_samples(toc))


class OpusJoiner:
    """Frames of one Opus track in, in order; packets of up to :data:`MAX_SAMPLES` out.

    The frames of a group not yet full are held until the next :meth:`push` or
    :meth:`flush`.
    """

    def __init__(self, max_samples: int = MAX_SAMPLES) -> None:
        self.max_samples = max_samples
        self._group: list[Frame] = []
        self._toc = -1
        self._next_pts = 0

    def push(self, frames: list[Frame]) -> list[Frame]:
        """The packets complete once ``frames`` (a list) are added; in C where
        :mod:`.native` is built."""
        if native.module is not None:
            state = [self._group, self._toc, self._next_pts]
            out = native.module.opus_join(frames, state, self.max_samples, Frame)
            self._toc, self._next_pts = state[1], state[2]
            return out
        out: list[Frame] = []
        group, toc, next_pts = self._group, self._toc, self._next_pts
        max_samples = self.max_samples
        for frame in frames:
            data = frame.data
            first = data[0] if data else 0
            if first & 3 or len(data) < 2 or len(data) > MAX_FRAME_BYTES + 1:
                # not a single frame (or empty): a packet of its own kind, as it came
                if group:
                    out.append(join(group))
                    group = []
                out.append(frame)
                continue
            samples = _SAMPLES[first >> 3]
            if group and (first != toc or frame.pts != next_pts
                          or (len(group) + 1) * samples > max_samples
                          or len(group) == MAX_FRAMES):
                out.append(join(group))
                group = []
            if not group:
                toc = first
            group.append(frame)
            next_pts = frame.pts + samples
        self._group, self._toc, self._next_pts = group, toc, next_pts
        return out

    def flush(self) -> list[Frame]:
        """The held frames as one packet (none held: nothing)."""
        if not self._group:
            return []
        packet = join(self._group)
        self._group = []
        return [packet]
