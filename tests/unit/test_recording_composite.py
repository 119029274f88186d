"""The composite's pieces without media I/O: the grid, the mix, the picture, and the
queue to the compositor that drops frames (never tracks' arrivals) when it is full."""
from __future__ import annotations

import queue
import struct

import av
import pytest

from media_node.config import parse_composite_video
from media_node.recording.canvas import Canvas, placeholder_colour
from media_node.recording.composite import CompositeWriter
from media_node.recording.compositor import CompositeSettings
from media_node.recording.layout import Rect, fit, grid
from media_node.recording.mixer import Mixer


def test_the_grid_grows_with_the_stage_in_even_cells():
    assert grid(0, 640, 480) == []
    assert grid(1, 640, 480) == [Rect(0, 0, 640, 480)]
    assert grid(2, 640, 480) == [Rect(0, 0, 320, 480), Rect(320, 0, 320, 480)]
    assert grid(3, 640, 480) == [Rect(0, 0, 320, 240), Rect(320, 0, 320, 240),
                                 Rect(0, 240, 320, 240)]
    five = grid(5, 640, 480)
    assert len(five) == 5 and five[3] == Rect(0, 240, 212, 240)
    assert all(v % 2 == 0 for cell in grid(7, 642, 362) for v in cell)


def test_a_picture_fits_its_cell_centred_with_its_aspect():
    assert fit(320, 240, Rect(320, 0, 320, 480)) == Rect(320, 120, 320, 240)
    assert fit(1280, 720, Rect(0, 0, 640, 480)) == Rect(0, 60, 640, 360)
    assert fit(0, 0, Rect(0, 0, 10, 10)) == Rect(0, 0, 10, 10)


def pcm(*values: int) -> bytes:
    return b"".join(struct.pack("<hh", v, v) for v in values)


def test_the_mix_sums_speakers_where_their_samples_fall_and_cuts_the_late():
    mixer = Mixer()
    mixer.add(2, pcm(100, 100))
    mixer.add(3, pcm(50, 30000))
    assert mixer.take(5) == pcm(0, 0, 100, 150, 30000)
    mixer.add(4, pcm(7, 8))  # sample 4 was already taken: cut, counted
    mixer.add(6, pcm(30000))
    mixer.add(6, pcm(30000))  # clipped, not wrapped
    assert (mixer.take(7), mixer.late) == (pcm(8, 32767), 1)
    assert mixer.take(9) == pcm(0, 0)  # nobody spoke: silence


def luma(canvas: Canvas, x: int, y: int) -> int:
    return canvas.planes[0][y * canvas._strides[0] + x]


def test_the_canvas_pastes_tiles_and_paints_placeholders():
    canvas = Canvas(64, 48)
    tile = av.VideoFrame(32, 24, "yuv420p")
    for plane, value in zip(tile.planes, (200, 90, 100)):
        plane.update(bytes([value]) * (plane.line_size * plane.height))
    canvas.paste(Rect(32, 12, 32, 24), tile)
    canvas.placeholder(Rect(0, 0, 32, 48), "bob")
    assert (luma(canvas, 40, 20), luma(canvas, 40, 2)) == (200, 16)  # tile, black
    assert (luma(canvas, 2, 2), luma(canvas, 16, 24)) == (40, placeholder_colour("bob")[0])
    frame = canvas.frame()
    assert (frame.width, frame.height) == (64, 48)


def test_the_composite_size_is_read_and_checked():
    assert parse_composite_video("1280x720@25") == (1280, 720, 25)
    for wrong in ("640x481@30", "640x480", "640x480@0", "big"):
        with pytest.raises(ValueError, match="DROPON_COMPOSITE_VIDEO"):
            parse_composite_video(wrong)


class Source:
    publisher_id, kind, muted = "alice", "video", False

    def __init__(self) -> None:
        self.taps, self.keyframes = set(), 0

    def request_keyframe(self) -> None:
        self.keyframes += 1


def test_a_full_queue_drops_frames_and_counts_them_but_keeps_arrivals_and_mutes(tmp_path):
    writer = CompositeWriter("r/composite.mp4", str(tmp_path), None, lambda: 3,
                             CompositeSettings())
    writer._inbox = queue.Queue(maxsize=1)  # the compositor, stuck
    source = Source()
    writer.add_track(source, "vp8")
    [tap] = source.taps
    tap.on_frame((1000, [(1, 0x80, b"k")], True, 1.0))
    writer._send_batch()  # fits
    for n in range(3):
        tap.on_frame((2000 + n, [(2 + n, 0x80, b"d")], False, 2.0))
    source.muted = True
    writer._send_batch()  # the queue is full: never waits
    assert writer.dropped_frames == 3
    assert [e[0] for e in writer.events] == ["muted"], "kept for the next batch"
    batch = writer._inbox.get_nowait()
    assert [e[0] for e in batch[2]] == ["track", "frame"]
    writer._send_batch()
    assert [e[0] for e in writer._inbox.get_nowait()[2]] == ["muted"]
