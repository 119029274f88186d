"""Keyframe detection on reassembled (depayloaded) frames."""
from __future__ import annotations


def vp8_is_keyframe(data: bytes) -> bool:
    """VP8: the lowest bit of the first payload byte is 0 on a keyframe (RFC 6386 9.1)."""
    return bool(data) and not (data[0] & 0x01)


def h264_is_keyframe(data: bytes) -> bool:
    """H.264 Annex B: a frame carrying an IDR slice (5) or an SPS (7)."""
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        nal_type = data[i + 3] & 0x1F
        if nal_type in (5, 7):
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """True when a decoder can start at this frame; audio frames always can."""
    name = codec_name.lower()
    if name == "vp8":
        return vp8_is_keyframe(data)
    if name == "h264":
        return h264_is_keyframe(data)
    return True
