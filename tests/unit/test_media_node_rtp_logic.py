"""Direct-path logic on RTP: keyframes told from payloads."""
from __future__ import annotations

import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder

from media_node.sfu.keyframes import (h264_rtp_is_keyframe, rtp_frame_is_keyframe,
                                     vp8_rtp_is_keyframe)


@pytest.mark.parametrize("picture_id", [5, 300])  # 7- and 15-bit picture ids
def test_vp8_keyframe_is_read_past_the_payload_descriptor(picture_id):
    key = Vp8Encoder._packetize(b"\x10" + bytes(3000), picture_id)
    delta = Vp8Encoder._packetize(b"\x11" + bytes(3000), picture_id)
    assert len(key) > 1
    assert vp8_rtp_is_keyframe(key[0]) and not vp8_rtp_is_keyframe(delta[0])
    # a continuation packet does not start a frame, whatever its bytes say
    assert not any(vp8_rtp_is_keyframe(p) for p in key[1:])
    assert rtp_frame_is_keyframe("VP8", key) and not rtp_frame_is_keyframe("VP8", delta)


def test_vp8_descriptor_without_extension():
    assert vp8_rtp_is_keyframe(b"\x10\x00\x9d\x01\x2a")
    assert not vp8_rtp_is_keyframe(b"\x10\x01")
    assert not vp8_rtp_is_keyframe(b"\x00\x00")  # not a partition start
    assert not vp8_rtp_is_keyframe(b"")


def test_h264_keyframe_in_single_stap_a_and_fu_a_packets():
    sps, pps = b"\x67" + bytes(10), b"\x68" + bytes(4)
    idr, slice_ = b"\x65" + bytes(3000), b"\x41" + bytes(3000)
    key = H264Encoder._packetize([sps, pps, idr])
    delta = H264Encoder._packetize([slice_])
    assert key[0][0] & 0x1F == 24  # SPS and PPS aggregated
    assert rtp_frame_is_keyframe("H264", key) and not rtp_frame_is_keyframe("H264", delta)
    idr_only = H264Encoder._packetize([idr])
    assert idr_only[0][0] & 0x1F == 28 and h264_rtp_is_keyframe(idr_only[0])
    assert not any(h264_rtp_is_keyframe(p) for p in idr_only[1:])  # FU-A continuations
    assert h264_rtp_is_keyframe(b"\x65\x88") and not h264_rtp_is_keyframe(b"\x41\x9a")


def test_audio_frames_are_always_keyframes():
    assert rtp_frame_is_keyframe("opus", [b"\xfc"])
