"""Opus frames joined into packets of up to 100 ms decode to exactly what they did one by
one, and a gap, a new configuration or a packet of several frames ends a group."""
from __future__ import annotations

import array
import fractions
import itertools
import math

import av
import pytest

from media_node.recording.frames import Frame
from media_node.recording.opus import OpusJoiner, frame_samples, join


def opus_frames(seconds: float, bitrate: int = 32000) -> list[Frame]:
    """20 ms Opus frames of a changing tone, as a WebRTC speaker sends them."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    codec.time_base, codec.bit_rate = fractions.Fraction(1, 48000), bitrate
    out = []
    for i in range(int(seconds * 50)):
        pitch = 300 + 40 * i
        samples = array.array("h", (int(8000 * math.sin(2 * math.pi * pitch * (n + i * 960)
                                                        / 48000))
                                    for n in range(960) for _ in range(2)))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = 48000, i * 960
        for packet in codec.encode(frame):  # numbered from 0, as the assembler does
            out.append(Frame(len(out) * 960, bytes(packet), True))
    return out


def decode(packets: list[Frame]) -> list[bytes]:
    """The PCM FFmpeg's Opus decoder makes of ``packets``: each plane's samples."""
    codec = av.CodecContext.create("opus", "r")
    codec.sample_rate, codec.layout = 48000, "stereo"
    planes: list[bytearray] = []
    for packet in packets:
        for frame in codec.decode(av.Packet(packet.data)):
            size = frame.samples * frame.format.bytes * (1 if frame.format.is_planar else 2)
            planes += [bytearray() for _ in range(len(frame.planes) - len(planes))]
            for pcm, plane in zip(planes, frame.planes):
                pcm += bytes(plane)[:size]
    return [bytes(pcm) for pcm in planes]


def test_joined_packets_decode_to_the_same_sound():
    frames = opus_frames(3.0)
    assert len({len(f.data) for f in frames}) > 1, "VBR: frames of several lengths"
    joiner = OpusJoiner()
    packets = joiner.push(frames[:77]) + joiner.push(frames[77:]) + joiner.flush()
    runs = [len(list(run)) for _, run in itertools.groupby(f.data[0] for f in frames)]
    assert len(runs) > 1, "the encoder changed mode: a new configuration starts a packet"
    assert len(packets) == sum(-(-run // 5) for run in runs), "100 ms packets within a run"
    assert sum(p.duration for p in packets) == 150 * 960
    assert all(p.pts + p.duration == n.pts for p, n in zip(packets, packets[1:]))
    assert all(p.data[0] & 3 == 3 for p in packets if p.duration > 960)
    pcm = decode(frames)
    assert sum(map(len, pcm)) >= 150 * 960 * 2 * 2 and decode(packets) == pcm


def test_a_gap_a_new_configuration_and_a_multi_frame_packet_end_a_group():
    frames = opus_frames(0.2)  # 10 frames
    gap = [Frame(f.pts + 48000, f.data, True) for f in frames[5:]]  # a mute of 1 s
    other = Frame(gap[-1].pts + 960, bytes([frames[0].data[0] ^ 0x04]) + frames[0].data[1:],
                  True)  # the stereo bit flipped: another configuration
    ready = join(frames[:2])  # already a packet of 2 frames: as it came
    joiner = OpusJoiner()
    packets = joiner.push(frames[:5] + gap + [other]) + joiner.push([ready]) + joiner.flush()
    assert [(p.pts, p.duration) for p in packets] == [
        (0, 4800), (48000 + 4800, 4800), (other.pts, 960), (ready.pts, 1920)]
    assert packets[3] is ready
    assert frame_samples(frames[0].data[0]) == 960


def test_the_c_joiner_and_assembler_give_what_the_python_gives():
    """_depay's Opus path and joiner against the pure Python on random input, in batches
    of any size: timestamps that wrap, repeat, go back or jump (a mute), every TOC's
    frame length, multi-frame and empty packets, frames of 1-2 byte lengths, too long
    ones, VBR and CBR runs, and groups ended by the sample limit or the 48-frame count."""
    import random

    from media_node.recording import native
    from media_node.recording.frames import FrameAssembler

    if native._depay is None:
        pytest.skip("media_node/recording/_depay is not built (make venv builds it)")
    rng = random.Random(5)
    batch, timestamp = [], 0xFFFFFFFF - 50 * 960
    toc = 0xFC
    tocs = [config << 3 | stereo << 2 for config in (1, 5, 9, 12, 13, 15, 18, 19, 23, 27, 31)
            for stereo in (0, 1)]
    for i in range(6000):
        if rng.random() < 0.05:  # another configuration (one of 10 or 20 ms, mostly),
            toc = rng.choice(tocs) if rng.random() < 0.8 else rng.randrange(256)  # or code
        size = rng.choice((1, 40, 40, 40, 80, 251, 252, 253, 1275, 1276)) \
            if rng.random() < 0.3 else 40  # runs of one length: CBR groups
        data = b"" if rng.random() < 0.005 else bytes([toc]) + rng.randbytes(size)
        step = rng.choice((frame_samples(toc),) * 20 + (0, -960, 48000, 120))
        if 3000 <= i < 3100:  # 2.5 ms CELT frames: 48 make a group at 5760 samples
            data, step = b"\x80" + bytes(10), 120
        timestamp = (timestamp + step) & 0xFFFFFFFF
        batch.append((timestamp, [(i & 0xFFFF, 0x80, data)], i % 7 == 0, float(i)))
    sizes = [rng.randint(0, 120) for _ in range(200)]

    def run(c: bool, max_samples: int) -> list:
        native.use(c)
        try:
            assembler, joiner, out, start = FrameAssembler("opus"), OpusJoiner(max_samples), [], 0
            for size in sizes:
                frames, first_at, last_at = assembler.push_all(batch[start:start + size])
                out.append((first_at, last_at, [(f.pts, f.data, f.keyframe) for f in frames]))
                out += [(p.pts, p.data, p.keyframe, p.duration) for p in joiner.push(frames)]
                start += size
            out += [(p.pts, p.data, p.keyframe, p.duration) for p in joiner.flush()]
            return out + [assembler.dropped]
        finally:
            native.use(True)

    for max_samples in (4800, 5760, 7680, 960):  # 7680: beyond Opus's 120 ms, 48 frames
        python = run(False, max_samples)
        assert run(True, max_samples) == python
        joined = [p for p in python if isinstance(p, tuple) and len(p) == 4 and p[3] > 960]
        assert joined and any(p[1][1] & 0x80 for p in joined), "VBR groups were made"
        assert any(not p[1][1] & 0x80 for p in joined), "and CBR ones"
        assert any(p[3] == 5760 and p[1][1] & 0x3F == 48 for p in joined) == \
            (max_samples >= 5760), "48 frames end a group"
