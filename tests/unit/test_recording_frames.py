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


def test_a_batch_gives_what_one_frame_at_a_time_gives(depay):
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


def test_vp8_batches_give_what_one_frame_at_a_time_gives(depay):
    """VP8's own path in push_all (C and Python) against push on the same frames, in
    batches of any size: lost, late, repeated, duplicated and reordered packets, sequence
    numbers and timestamps that wrap, every descriptor shape (and ones cut short),
    keyframes and inter frames, and frames of more packets than C holds on its stack."""
    import random

    rng = random.Random(11)
    descriptors = [b"\x10", b"\x90\x80\x05", b"\x90\x80\x85\x01", b"\x90\xc0\x05\x07",
                   b"\x90\xf0\x85\x01\x07\x20", b"\x90\x80", b"\x90", b""]
    batch, seq, timestamp = [], 0xFFF0, 0xFFFFFFFF - 20 * 3000
    for i in range(3000):
        keyframe = rng.random() < 0.1
        packets = []
        for k in range(rng.choice((1, 1, 2, 3, 4)) if rng.random() > 0.01 else 100):
            start = rng.choice(descriptors) if rng.random() < 0.1 else \
                rng.choice(descriptors[:5])
            first = bytes([start[0] & ~0x10 | (0x10 if k == 0 else 0)]) if start else b""
            body = (b"\x00\x9d\x01\x2a" if keyframe and k == 0 else b"\x01") + bytes([i & 0xFF])
            packets.append((seq & 0xFFFF, 0, first + start[1:] + body))
            seq += 1
        if rng.random() < 0.05:
            packets.pop(rng.randrange(len(packets)))  # lost
        if rng.random() < 0.03:  # a packet twice, maybe with another marker or payload
            seq_, marker, payload = rng.choice(packets)
            packets.append((seq_, rng.choice((marker, 0x80)), rng.choice((payload, b"\x10"))))
        if rng.random() < 0.1:
            rng.shuffle(packets)  # reordered (a retransmission)
        if not packets:
            continue
        if rng.random() < 0.05:
            seq += 1  # a packet between frames lost
        step = rng.choice((3000, 3000, 3000, 0, -3000, 90000))  # repeated, late, a pause
        timestamp = (timestamp + step) & 0xFFFFFFFF
        batch.append((timestamp, packets, keyframe, float(i)))
    one_by_one, together = FrameAssembler("vp8"), FrameAssembler("vp8")
    expected = [(f.pts, f.data, f.keyframe, at) for ts, packets, key, at in batch
                if (f := one_by_one.push(ts, packets, key)) is not None]
    got, start = [], 0
    while start < len(batch):
        size = rng.randint(0, 90)
        frames, first_at, last_at = together.push_all(batch[start:start + size])
        kept = [(f.pts, f.data, f.keyframe) for f in frames]
        arrivals = [at for *_, at in expected[len(got):len(got) + len(kept)]]
        assert (first_at, last_at) == ((arrivals[0], arrivals[-1]) if kept else (None, None))
        got += kept
        start += size
    assert got == [e[:3] for e in expected]
    assert 100 < len(got) < len(batch) and together.dropped == one_by_one.dropped
    assert together.needs_keyframe == one_by_one.needs_keyframe


def test_a_frame_whose_packets_wrap_is_put_in_order(depay):
    vp8 = FrameAssembler("vp8")
    frame = vp8.push(0, [(0, 0, b"\x00\xbb"), (0xFFFF, 0, KEY), (1, 0x80, b"\x00\xcc")], True)
    assert frame is not None and frame.data == KEY[1:] + b"\xbb\xcc"
    together = FrameAssembler("vp8")
    frames, _, _ = together.push_all(
        [(0, [(0, 0, b"\x00\xbb"), (0xFFFF, 0, KEY), (1, 0x80, b"\x00\xcc")], True, 1.0)])
    assert [f.data for f in frames] == [frame.data]


def test_a_frame_with_a_packet_twice_is_ordered_as_push_orders_it(depay):
    """Seq 0 twice and 1 lost pass the contiguity check: the payloads go in push's order
    (sorted tuples: by marker, then payload), on both paths, in every arrival order."""
    import itertools

    end = (2, 0x80, b"\x00\xee")
    cases = {((0, 0, KEY), (0, 0x80, b"\x10\xdd"), end): KEY[1:] + b"\xdd\xee",  # by marker
             ((0, 0, KEY), (0, 0, b"\x10\xcc"), end): KEY[1:] + b"\xcc\xee"}  # by payload
    for packets, data in cases.items():
        for arrival in itertools.permutations(packets):
            frame = FrameAssembler("vp8").push(0, list(arrival), True)
            frames, _, _ = FrameAssembler("vp8").push_all([(0, list(arrival), True, 1.0)])
            assert frame is not None and frame.data == data
            assert [f.data for f in frames] == [data]


def test_vp8_size_reads_a_keyframe_header():
    header = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01])
    assert vp8_size(header) == (640, 480)
    assert vp8_size(b"\x01" * 10) == (0, 0)


def test_the_node_acts_on_recording_events():
    assert {"RecordingStarted", "RecordingStopped", "RecordingRetryRequested"} <= KNOWN


def test_the_vp8_descriptor_is_skipped_as_aiortc_depayloads_it(depay):
    """Every descriptor shape (X, I with 7- and 15-bit ids, L, T, K) and every truncation
    gives aiortc's data, or its ValueError: by vp8_payload, by vp8_frame's inline
    reading of the usual shapes, and by push_all (C and Python)."""
    import itertools
    import random

    from aiortc.codecs.vpx import vp8_depayload

    from media_node.recording.frames import vp8_frame, vp8_payload

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
    def assembled(payload):  # by push_all, in C where built: a frame's second packet
        frames, _, _ = FrameAssembler("vp8").push_all(
            [(0, [(0, 0, b"\x10\xaa"), (1, 0x80, payload)], True, 1.0)])
        return frames[0].data[1:] if frames else ValueError

    errors = 0
    for payload in payloads:
        expected = outcome(vp8_depayload, payload)
        assert outcome(vp8_payload, payload) == expected, payload.hex()
        assert outcome(lambda p: vp8_frame([(0, 0, p)]), payload) == expected, payload.hex()
        assert assembled(payload) == expected, payload.hex()
        errors += expected is ValueError
    assert 0 < errors < len(payloads), "both outcomes were tried"


def test_without_the_c_module_the_first_recording_says_so_once(monkeypatch, caplog):
    from media_node.recording import native

    monkeypatch.setattr(native, "_depay", None)
    monkeypatch.setattr(native, "_warned", False)
    assert native.use(True) is False and native.module is None
    try:
        with caplog.at_level("WARNING", logger="media_node.recording.native"):
            FrameAssembler("vp8"), FrameAssembler("opus")
        assert [r.getMessage() for r in caplog.records].count(
            "media_node/recording/_depay is not built: recording assembles frames in Python "
            "(python -m media_node.build_native)") == 1
    finally:
        monkeypatch.undo()
        native.use(True)
