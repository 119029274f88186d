"""The SFU benchmark's counting and arithmetic, without peers."""
from __future__ import annotations

from types import SimpleNamespace

from bench.sfu.counter import StreamCount, is_vp8_keyframe
from bench.sfu.measure import window


def packet(seq, ts, payload=b"\x10\x00"):
    return SimpleNamespace(sequence_number=seq, timestamp=ts, payload=payload)


def test_sequence_numbers_extend_across_the_wrap_and_ignore_reordering():
    stream = StreamCount("audio")
    for seq in (65534, 65535, 0, 65535, 2):
        stream.count(packet(seq, seq))
    assert stream.max_seq == 65536 + 2
    assert stream.packets == 5


def test_frames_are_timestamp_changes_and_keyframes_settle_video():
    stream = StreamCount("video")
    stream.count(packet(1, 3000, b"\x10\x01"))  # start of partition 0, P bit set: delta frame
    assert not stream.settled
    stream.count(packet(2, 6000, b"\x10\x00"))  # P bit clear: keyframe
    stream.count(packet(3, 6000, b"\x00\x00"))  # same frame, continuation
    assert stream.frames == 2 and stream.settled and stream.first_keyframe_at


def test_vp8_keyframe_needs_the_start_of_partition_zero():
    assert is_vp8_keyframe(b"\x10\x50")
    assert not is_vp8_keyframe(b"\x00\x50")  # not a partition start
    assert not is_vp8_keyframe(b"\x10\x01")
    assert not is_vp8_keyframe(b"")


def test_window_turns_two_snapshots_into_rates_loss_and_fps():
    a = {"t": 0.0, "wall": 0.0, "cpu": 1.0, "server_cpu": 2.0, "udp_drops": 0,
         "server_wait": 0.0,
         "subs": [{"1": {"kind": "video", "packets": 0, "frames": 0, "max_seq": 99}}]}
    b = {"t": 10.0, "wall": 10.0, "cpu": 2.0, "server_cpu": 3.0, "udp_drops": 4,
         "server_wait": 0.5,
         "subs": [{"1": {"kind": "video", "packets": 990, "frames": 300, "max_seq": 1099}}]}
    level = window(1, 2, a, b, {"first_frame_s": [0.5], "no_frame": 0, "errors": []})
    assert level.server_cpu == 0.1 and level.client_cpu == 0.1
    assert level.packets_out == 99.0
    assert abs(level.loss - 0.01) < 1e-9
    assert level.fps_mean == 15.0 and level.fps_min == 0.0  # the second speaker never came
    assert level.us_per_packet == 0.1 / 99 * 1e6
    assert level.udp_drops == 4 and level.server_wait == 0.05


def test_media_time_extends_across_the_timestamp_wrap_and_ignores_late_frames():
    stream = StreamCount("video")
    for seq, ts in enumerate((0xFFFFF000, 0xFFFFFFFF, 2000, 0xFFFFFFFF, 5000)):
        stream.count_header(seq, ts)
    assert stream.media_ts == 0x100000000 + 5000


def test_window_separates_the_publishers_pace_from_frames_the_server_passed_on():
    def snap(t, frames, media_ts):
        return {"t": t, "wall": t, "cpu": 0.0, "server_cpu": 0.0, "udp_drops": 0,
                "server_wait": 0.0, "subs": [{1: {"kind": "video", "packets": frames,
                                                  "frames": frames, "max_seq": frames,
                                                  "media_ts": media_ts}}]}
    # 10 wall seconds, but the publisher only sent 9.5 s of media: every frame of it came
    lv = window(1, 1, snap(0.0, 0, 0), snap(10.0, 285, 9.5 * 90000), None)
    assert round(lv.fps_mean, 1) == 28.5 and round(lv.fps_media_min, 1) == 30.0
    assert round(lv.pace_min, 3) == 0.95
