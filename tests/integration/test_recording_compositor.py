"""The compositor alone, fed as the node feeds it (RTP payloads stamped with arrival
times), writing a real MP4: an empty stage is black, the grid follows who publishes
(a late joiner, an audio-only speaker's placeholder, a leaver), sound follows its
speakers. No network: the node's side is replayed from synthetic VP8 and Opus."""
from __future__ import annotations

import fractions
import math
import struct
from pathlib import Path

import av
from aiortc.codecs.vpx import Vp8Encoder

from media_node.recording.compositor import Compositor, CompositeSettings
from tests.composite_checks import level_of, picture, sound

T0 = 1000.0
FPS = 30


def vp8_frames(level: int, seconds: float) -> list[tuple[int, list, bool]]:
    """``(rtp timestamp, packets, keyframe)`` of a flat ``level`` grey, 160x120."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 160, 120, "yuv420p"
    codec.time_base, codec.framerate, codec.gop_size = fractions.Fraction(1, FPS), FPS, FPS
    codec.thread_count, codec.options = 1, {"deadline": "realtime", "cpu-used": "8"}
    packer, out, seq = Vp8Encoder(), [], 0
    for i in range(int(seconds * FPS)):
        frame = av.VideoFrame(160, 120, "yuv420p")
        for plane, value in zip(frame.planes, (level, 128, 128)):
            plane.update(bytes([value]) * (plane.line_size * plane.height))
        frame.pts = i
        for packet in codec.encode(frame):
            packet.pts, packet.time_base = i * 3000, fractions.Fraction(1, 90000)
            payloads, _ = packer.pack(packet)
            packets = [(seq + j, 0x80 if j == len(payloads) - 1 else 0, p)
                       for j, p in enumerate(payloads)]
            seq += len(payloads)
            out.append((i * 3000, packets, packet.is_keyframe))
    return out


def opus_frames(frequency: float, seconds: float) -> list[tuple[int, list, bool]]:
    """``(rtp timestamp, packets, keyframe)`` of a sine of ``frequency``, in 20 ms frames."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    out = []
    for i in range(int(seconds * 50)):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.sample_rate, frame.pts = 48000, i * 960
        frame.planes[0].update(b"".join(
            struct.pack("<hh", v, v) for v in
            (int(8000 * math.sin(2 * math.pi * frequency * (i * 960 + k) / 48000))
             for k in range(960))))
        out.extend((i * 960, [(i, 0x80, bytes(p))], True) for p in codec.encode(frame))
    return out


def feed(compositor: Compositor, plan: dict, end: float) -> dict:
    """Replay ``plan`` (track id: ``(who, kind, start, stop, frames)``, times on the
    output's clock) as the node would, batch by batch; the summary at ``end``."""
    events = []
    for tid, (who, kind, start, stop, frames) in plan.items():
        clock = 90000 if kind == "video" else 48000
        events.append((T0 + start, 0, "track", tid, who, kind, "vp8" if kind == "video"
                       else "opus"))
        events += [(T0 + start + ts / clock + 0.002, 1, "frame", tid, ts, packets, key)
                   for ts, packets, key in frames]
        events.append((T0 + stop, 0, "ended", tid))
    events.sort(key=lambda e: e[:2])
    tick = T0
    for at, _, kind, *args in events:
        getattr(compositor, kind)(at, *args)
        if at >= tick + 0.1:
            tick = at
            compositor.advance(at)
    return compositor.stop(T0 + end)


def test_the_grid_follows_the_stage_and_the_sound_its_speakers(tmp_path):
    path = tmp_path / "composite.mp4"
    compositor = Compositor(str(path), T0, CompositeSettings(width=320, height=240))
    # (start, stop) on the output's clock, and what each speaker sends
    plan = {0: ("ann", "video", 1.0, 4.0, vp8_frames(200, 3.0)),
            1: ("ann", "audio", 1.0, 4.0, opus_frames(440, 3.0)),
            2: ("ben", "video", 2.0, 6.0, vp8_frames(160, 4.0)),
            3: ("cat", "audio", 3.0, 6.0, opus_frames(1000, 3.0))}
    summary = feed(compositor, plan, 6.0)
    assert summary["codecs"] == ["h264", "aac"] and summary["durationSeconds"] == 6.0
    assert summary["lateSamples"] == summary["decodeErrors"] == 0

    frames = picture(path, {"middle": (160, 120), "left": (80, 120), "right": (240, 120),
                            "top_left": (80, 60), "top_right": (240, 60),
                            "bottom_left": (80, 180), "bottom_left_edge": (10, 130)})

    def at(t: float) -> dict:
        return next(levels for time_, levels in frames if time_ >= t)

    def near(value: float, expected: float) -> bool:
        return abs(value - expected) <= 12

    assert near(at(0.5)["middle"], 16), "nobody on stage: black"
    assert near(at(1.5)["middle"], 200), "ann alone fills the picture"
    both = at(2.5)
    assert near(both["left"], 200) and near(both["right"], 160), "ben joins on the right"
    three = at(3.5)  # 2x2: ann, ben; cat (audio only) below left, as a placeholder
    assert near(three["top_left"], 200) and near(three["top_right"], 160)
    assert near(three["bottom_left"], 110) and near(three["bottom_left_edge"], 40), \
        "cat's placeholder: a grey cell, her colour's square in the middle"
    after = at(4.5)  # ann left: ben and cat side by side
    assert near(after["left"], 160) and near(after["right"], 110)
    samples = sound(path)
    assert level_of(samples, 440, 1.2, 1.8) > 2000 and level_of(samples, 1000, 1.2, 1.8) < 500
    assert level_of(samples, 440, 3.2, 3.8) > 2000 and level_of(samples, 1000, 3.2, 3.8) > 2000
    assert level_of(samples, 440, 4.3, 4.9) < 500, "ann's sound ends with her"


def test_a_camera_turned_on_after_the_start_is_in_the_picture(tmp_path):
    """The old rule chose AAC alone when the first speaker had no video, and lost her."""
    path = tmp_path / "composite.mp4"
    compositor = Compositor(str(path), T0, CompositeSettings(width=320, height=240))
    plan = {0: ("ann", "audio", 0.2, 6.0, opus_frames(440, 5.8)),
            1: ("ann", "video", 4.0, 6.0, vp8_frames(200, 2.0))}
    summary = feed(compositor, plan, 6.0)
    assert summary["codecs"] == ["h264", "aac"] and summary["decodeErrors"] == 0
    frames = picture(path, {"middle": (160, 120), "edge": (10, 10)})

    def at(t: float) -> dict:
        return next(levels for time_, levels in frames if time_ >= t)

    assert abs(at(2.0)["edge"] - 40) <= 12, "ann without a camera: her placeholder"
    assert abs(at(5.0)["middle"] - 200) <= 12, "ann's camera, once on, fills the picture"
    assert level_of(sound(path), 440, 1.0, 3.0) > 2000


def test_an_audio_only_rooms_composite_keeps_no_picture(tmp_path):
    path = tmp_path / "composite.mp4"
    compositor = Compositor(str(path), T0, CompositeSettings(width=320, height=240),
                            video=False)
    plan = {0: ("ann", "video", 0.5, 3.0, vp8_frames(200, 2.5)),
            1: ("ann", "audio", 0.5, 3.0, opus_frames(440, 2.5))}
    assert feed(compositor, plan, 3.0)["codecs"] == ["aac"]
    with av.open(str(path)) as container:
        assert [s.type for s in container.streams] == ["audio"]
    assert level_of(sound(path), 440, 1.0, 2.5) > 2000


def top_boxes(path) -> list[tuple[bytes, int, int]]:
    """``(type, offset, size)`` of the MP4's top-level boxes (32-bit sizes: small files)."""
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        boxes.append((kind, offset, size))
        offset += size
    return boxes


def test_a_killed_compositors_mp4_is_finished_from_its_whole_fragments(tmp_path):
    """The compositor's process killed: its spool ends in a fragment cut off. Salvaged,
    the MP4 has every whole fragment and not the cut one, and decodes cleanly."""
    from media_node.recording.kept import salvage_live
    from tests.recording_checks import check_file, probe

    for video in (True, False):
        path = tmp_path / f"rec_composite-{video}.mp4"
        compositor = Compositor(str(path), T0, CompositeSettings(width=320, height=240),
                                video=video)
        if not video:  # an audio-only room: AAC alone
            compositor.track(T0, 0, "ann", "audio", "opus")
        compositor.advance(T0 + 8.0)  # 6 s rendered, never stopped: no trailer
        killed = tmp_path / f"killed-{video}.mp4"
        killed.write_bytes(path.read_bytes())
        boxes = top_boxes(killed)
        assert [kind for kind, _, _ in boxes[-2:]] == [b"moof", b"mdat"]
        (_, moof, _), (_, mdat, size) = boxes[-2:]
        with open(killed, "r+b") as f:  # the kill came while the last fragment was written
            f.truncate(mdat + size // 2)
        whole = tmp_path / f"whole-{video}.mp4"  # what ffprobe makes of the whole fragments
        whole.write_bytes(killed.read_bytes()[:moof])
        expected = float(probe(whole)["format"]["duration"])
        assert expected < float(probe(path)["format"]["duration"]), "one fragment less"

        note = {"recordingId": "rec", "lastSeq": 7, "live": [
            {"name": "rec/composite.mp4", "path": str(killed), "participantId": None,
             "kind": "composite", "addedAt": 1000.0, "startSeq": 2}]}
        [kept] = salvage_live(note)
        codecs = ["h264", "aac"] if video else ["aac"]
        assert (kept.name, kept.content_type) == ("rec/composite.mp4", "video/mp4")
        assert {k: kept.entry[k] for k in ("kind", "codecs", "startSeq", "endSeq")} == {
            "kind": "composite", "codecs": codecs, "startSeq": 2, "endSeq": 7}
        assert "participantId" not in kept.entry
        assert 3.0 <= expected < 6.0
        check_file(Path(kept.path), kept.entry, codecs, expected)
        assert abs(kept.entry["durationSeconds"] - expected) <= 0.05
        assert not killed.exists(), "the spool goes once its file is finished"


def test_a_composite_killed_before_a_whole_fragment_leaves_nothing(tmp_path):
    from media_node.recording.kept import salvage_live

    path = tmp_path / "rec_composite.mp4"
    compositor = Compositor(str(path), T0, CompositeSettings(width=320, height=240))
    compositor.advance(T0 + 8.0)
    head = [o for kind, o, _ in top_boxes(path) if kind == b"moof"][0]
    killed = tmp_path / "killed.mp4"
    killed.write_bytes(path.read_bytes()[:head + 40])  # the header and part of a moof
    note = {"recordingId": "rec", "lastSeq": 7, "live": [
        {"name": "rec/composite.mp4", "path": str(killed), "participantId": None,
         "kind": "composite", "addedAt": 1000.0, "startSeq": 2}]}
    assert salvage_live(note) == [] and not killed.exists()
