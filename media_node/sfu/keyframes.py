"""Keyframe detection on reassembled (depayloaded) frames and on RTP payloads."""
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


def vp8_rtp_is_keyframe(payload: bytes) -> bool:
    """VP8 RTP payload (RFC 7741): the first packet of a keyframe.

    Skips the payload descriptor; the frame must start here (S=1, partition 0).
    """
    if len(payload) < 2 or (payload[0] & 0x1F) != 0x10:
        return False
    pos = 1
    if payload[0] & 0x80:  # extended control bits
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # picture id, 7 or 15 bits
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # TL0PICIDX
            pos += 1
        if ext & 0x30:  # TID/KEYIDX
            pos += 1
    return len(payload) > pos and not (payload[pos] & 0x01)


def h264_rtp_is_keyframe(payload: bytes) -> bool:
    """H.264 RTP payload (RFC 6184): carries an IDR slice (5) or an SPS (7)."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (5, 7):
        return True
    if nal_type == 24:  # STAP-A: 16-bit sizes, then NAL units
        pos = 1
        while pos + 2 < len(payload):
            if payload[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + ((payload[pos] << 8) | payload[pos + 1])
        return False
    if nal_type == 28 and len(payload) > 1:  # FU-A: the start of a fragmented unit
        return bool(payload[1] & 0x80) and (payload[1] & 0x1F) in (5, 7)
    return False


def rtp_frame_is_keyframe(codec_name: str, payloads: list[bytes]) -> bool:
    """True when a decoder can start at the frame these RTP payloads carry."""
    name = codec_name.lower()
    if name == "vp8":
        return vp8_rtp_is_keyframe(payloads[0])
    if name == "h264":
        return any(h264_rtp_is_keyframe(p) for p in payloads)
    return True
