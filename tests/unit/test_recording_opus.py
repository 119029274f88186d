"""Opus frames joined into packets of up to 100 ms decode to exactly what they did one by
one, and a gap, a new configuration or a packet of several frames ends a group."""
from __future__ import annotations

import array
import fractions
import itertools
import math

import av

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
