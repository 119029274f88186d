"""The composite's sound: every speaker's samples summed on one timeline.

Samples are 48 kHz s16 stereo; positions count samples from the recording's start. A
speaker's samples land where their timestamps put them, and the sum is clipped
(``audioop.add``: the standard library's C loop, in Python up to 3.12, which the node's
image pins at 3.11; no numpy on the node).
"""
from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

RATE = 48000
BYTES_PER_SAMPLE = 4  # s16, two channels


class Mixer:
    """Samples from :attr:`start` on, summed as they come, taken out in order."""

    def __init__(self) -> None:
        self.start = 0  # the first sample not taken yet
        self._buf = bytearray()
        self.late = 0  # samples that came after their place was taken (dropped)

    def add(self, position: int, pcm: bytes) -> None:
        """Sum ``pcm`` (s16 stereo) into the timeline from sample ``position`` on."""
        if position < self.start:
            cut = (self.start - position) * BYTES_PER_SAMPLE
            self.late += min(cut, len(pcm)) // BYTES_PER_SAMPLE
            pcm, position = pcm[cut:], self.start
        if not pcm:
            return
        begin = (position - self.start) * BYTES_PER_SAMPLE
        end = begin + len(pcm)
        if end > len(self._buf):
            self._buf.extend(bytes(end - len(self._buf)))
        self._buf[begin:end] = audioop.add(bytes(self._buf[begin:end]), pcm, 2)

    def take(self, upto: int) -> bytes:
        """Samples from :attr:`start` to ``upto`` (silence where nobody spoke)."""
        size = max(0, upto - self.start) * BYTES_PER_SAMPLE
        out = bytes(self._buf[:size])
        del self._buf[:size]
        self.start = max(self.start, upto)
        return out + bytes(size - len(out))
