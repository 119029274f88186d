"""Where each speaker goes in the composite's grid (pure geometry, no media).

The stage's speakers, in the order they first published, fill a grid of
``ceil(sqrt(n))`` columns and as many rows as needed, left to right, top to bottom; each
picture is scaled to fit its cell with its aspect ratio kept, centred. Every coordinate
and size is even, as yuv420p's half-size chroma planes need.
"""
from __future__ import annotations

import math
from typing import NamedTuple


class Rect(NamedTuple):
    """A rectangle of the output picture, in pixels."""

    x: int
    y: int
    w: int
    h: int


def _even(value: float) -> int:
    return int(value) // 2 * 2


def grid(count: int, width: int, height: int) -> list[Rect]:
    """The cells of ``count`` speakers on a ``width`` x ``height`` picture (none if 0)."""
    if count <= 0:
        return []
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    cell_w, cell_h = _even(width / cols), _even(height / rows)
    return [Rect((i % cols) * cell_w, (i // cols) * cell_h, cell_w, cell_h)
            for i in range(count)]


def fit(src_w: int, src_h: int, cell: Rect) -> Rect:
    """The largest rectangle of ``src_w:src_h`` inside ``cell``, centred in it."""
    if src_w <= 0 or src_h <= 0:
        return cell
    scale = min(cell.w / src_w, cell.h / src_h)
    w, h = max(2, _even(src_w * scale)), max(2, _even(src_h * scale))
    return Rect(cell.x + _even((cell.w - w) / 2), cell.y + _even((cell.h - h) / 2), w, h)
