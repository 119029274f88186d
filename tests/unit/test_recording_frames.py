"""RTP frames to whole frames: timestamps unwrap, pauses stay, losses wait for a keyframe."""
from __future__ import annotations

from media_node.control.events import KNOWN
from media_node.recording.frames import FrameAssembler
from media_node.recording.remux import vp8_size

KEY = bytes([0x10, 0x00, 0x9D, 0x01, 0x2A])  # VP8 descriptor S=1, then a keyframe tag
DELTA = bytes([0x10, 0x01])  # S=1, then an inter frame's first byte


def test_timestamps_unwrap_and_a_pause_keeps_its_length():
    opus = FrameAssembler("opus")
    first = opus.push(0xFFFFFC40, [(1, 0x80, b"a")], True)
    after_wrap = opus.push(0x00000000, [(2, 0x80, b"b")], True)
    paused = opus.push(48000, [(60, 0x80, b"c")], True)  # a second later: seq gap, no matter
    assert (first.pts, after_wrap.pts, paused.pts) == (0, 960, 960 + 48000)
    assert opus.push(100, [(61, 0x80, b"late")], True) is None  # never back in time


def test_video_after_a_lost_packet_waits_for_a_keyframe():
    vp8 = FrameAssembler("vp8")
    assert vp8.push(0, [(10, 0, DELTA)], False) is None  # never starts on an inter frame
    assert vp8.push(3000, [(11, 0, KEY), (12, 0x80, b"\x00\xaa")], True).data == \
        KEY[1:] + b"\xaa"  # descriptors gone, partitions joined
    assert vp8.push(6000, [(13, 0x80, DELTA)], False) is not None
    assert vp8.push(9000, [(15, 0x80, DELTA)], False) is None  # packet 14 lost
    assert vp8.needs_keyframe
    assert vp8.push(12000, [(16, 0, KEY), (18, 0x80, b"")], True) is None  # 17 missing
    frame = vp8.push(15000, [(20, 0x80, KEY)], True)
    assert frame is not None and frame.pts == 15000 - 3000 and not vp8.needs_keyframe


def test_a_batch_gives_what_one_frame_at_a_time_gives():
    """push_all (Opus's own path included) keeps, drops and times frames as push does:
    across the timestamp's wrap, with late and repeated packets, and their arrivals."""
    timestamps = [0xFFFFF100, 0xFFFFF100 + 960, 0x40, 0x40 + 960, 0x40, 0x30, 0x40 + 48960,
                  0x40 + 49920]
    batch = [(ts, [(i, 0x80, bytes([0xFC, i]))], True, 100.0 + i)
             for i, ts in enumerate(timestamps)]
    one_by_one, together = FrameAssembler("opus"), FrameAssembler("opus")
    expected = [(f.pts, f.data) for ts, packets, key, _ in batch
                if (f := one_by_one.push(ts, packets, key)) is not None]
    frames, first_at, last_at = together.push_all(batch[:3])
    more, _, last_at = together.push_all(batch[3:])
    assert [(f.pts, f.data) for f in frames + more] == expected
    assert len(expected) == 6 and together.dropped == one_by_one.dropped == 2
    assert (first_at, last_at) == (100.0, 107.0)
    assert together.push_all([batch[0]]) == ([], None, None), "back in time: dropped"
    # video (and anything with several packets a frame) goes frame by frame
    vp8 = FrameAssembler("vp8")
    frames, first_at, last_at = vp8.push_all(
        [(0, [(10, 0, DELTA)], False, 1.0), (3000, [(12, 0x80, b"\x00\xaa"), (11, 0, KEY)],
                                              True, 2.0)])
    assert [f.data for f in frames] == [KEY[1:] + b"\xaa"] and (first_at, last_at) == (2.0, 2.0)


def test_a_frame_whose_packets_wrap_is_put_in_order():
    vp8 = FrameAssembler("vp8")
    frame = vp8.push(0, [(0, 0, b"\x00\xbb"), (0xFFFF, 0, KEY), (1, 0x80, b"\x00\xcc")], True)
    assert frame is not None and frame.data == KEY[1:] + b"\xbb\xcc"


def test_vp8_size_reads_a_keyframe_header():
    header = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01])
    assert vp8_size(header) == (640, 480)
    assert vp8_size(b"\x01" * 10) == (0, 0)


def test_the_node_acts_on_recording_events():
    assert {"RecordingStarted", "RecordingStopped", "RecordingRetryRequested"} <= KNOWN


def test_the_vp8_descriptor_is_skipped_as_aiortc_depayloads_it():
    """Every descriptor shape (X, I with 7- and 15-bit ids, L, T, K) and every truncation
    gives aiortc's data, or its ValueError."""
    import itertools
    import random

    from aiortc.codecs.vpx import vp8_depayload

    from media_node.recording.frames import vp8_payload

    def outcome(depayload, payload):
        try:
            return depayload(payload)
        except ValueError:
            return ValueError

    rng = random.Random(7)
    payloads = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))
                for _ in range(20000)]
    for first, ext, pic in itertools.product((0x10, 0x90), range(0, 256, 16), (0x05, 0x85)):
        whole = bytes([first, ext, pic, 0x22, 0x33, 0x44, 0xAA, 0xBB])
        payloads += [whole[:n] for n in range(len(whole) + 1)]
    errors = 0
    for payload in payloads:
        expected = outcome(vp8_depayload, payload)
        assert outcome(vp8_payload, payload) == expected, payload.hex()
        errors += expected is ValueError
    assert 0 < errors < len(payloads), "both outcomes were tried"
