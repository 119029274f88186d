"""The composite's picture, painted in yuv420p bytes: black, tiles, placeholders.

PyAV frames' planes are buffers, so a tile is pasted row by row with slice assignments
(no per-pixel Python, and no numpy on the node).
"""
from __future__ import annotations

import zlib

import av

from .layout import Rect

BLACK = (16, 128, 128)  # video-range black
PLACEHOLDER = (40, 128, 128)  # a dark grey cell for a speaker without a picture


def placeholder_colour(participant_id: str) -> tuple[int, int, int]:
    """A steady colour for a speaker's placeholder square (from their id)."""
    h = zlib.crc32(participant_id.encode())
    return 110, 64 + h % 128, 64 + (h >> 8) % 128


class Canvas:
    """One output picture of ``width`` x ``height``, rebuilt for every frame.

    :param width: even.
    :param height: even.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        template = av.VideoFrame(width, height, "yuv420p")
        self._strides = [p.line_size for p in template.planes]
        self._black = [bytes([value]) * (stride * (height >> (i > 0)))
                       for i, (value, stride) in enumerate(zip(BLACK, self._strides))]
        self.planes = [bytearray(b) for b in self._black]

    def clear(self) -> None:
        """Paint it all black."""
        self.planes = [bytearray(b) for b in self._black]

    def fill(self, rect: Rect, colour: tuple[int, int, int]) -> None:
        """Paint ``rect`` in one ``(y, u, v)`` colour."""
        for i, value in enumerate(colour):
            shift = i > 0
            x, y, w, h = rect.x >> shift, rect.y >> shift, rect.w >> shift, rect.h >> shift
            row, stride, plane = bytes([value]) * w, self._strides[i], self.planes[i]
            for r in range(y, y + h):
                plane[r * stride + x:r * stride + x + w] = row

    def placeholder(self, cell: Rect, participant_id: str) -> None:
        """A speaker with no picture: a grey cell with their colour's square in the middle."""
        self.fill(cell, PLACEHOLDER)
        side = min(cell.w, cell.h) // 4 * 2
        self.fill(Rect(cell.x + (cell.w - side) // 4 * 2, cell.y + (cell.h - side) // 4 * 2,
                       side, side), placeholder_colour(participant_id))

    def paste(self, rect: Rect, frame: av.VideoFrame) -> None:
        """Copy ``frame`` (yuv420p, exactly ``rect``'s size) into ``rect``."""
        for i, source in enumerate(frame.planes):
            shift = i > 0
            x, y, w, h = rect.x >> shift, rect.y >> shift, rect.w >> shift, rect.h >> shift
            src, line = memoryview(source), source.line_size
            stride, plane = self._strides[i], self.planes[i]
            for r in range(h):
                at = (y + r) * stride + x
                plane[at:at + w] = src[r * line:r * line + w]

    def frame(self) -> av.VideoFrame:
        """The picture as a new frame for the encoder."""
        out = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane, data in zip(out.planes, self.planes):
            plane.update(data)
        return out
