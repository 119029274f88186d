"""Whole encoded frames from the RTP payloads the node forwards, without decoding.

The ingest hands each frame's payloads as they came (descriptors included); here they
are depayloaded, checked for completeness, and given an unwrapped timestamp, so a mute's
pause stays a pause in the file's timeline. Opus payloads are the frames themselves, and
a VP8 payload descriptor is skipped by its length alone (:func:`vp8_payload`; its usual
shapes read inline by :func:`vp8_frame`); H.264 goes through aiortc's depayloader
(aggregation and fragmentation units). A batch of VP8 or Opus frames is assembled in C
(``_depay.c``) where :mod:`.native` has it built, by the same steps.
"""
from __future__ import annotations

from dataclasses import dataclass

from aiortc.codecs import depayload
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from . import native

CLOCK_RATES = {"vp8": 90000, "h264": 90000, "opus": 48000}


@dataclass(slots=True)
class Frame:
    """One encoded frame: ``pts`` in ``1/clock_rate`` from the track's first frame;
    ``duration`` in the same unit where known (joined Opus packets), else 0."""

    pts: int
    data: bytes
    keyframe: bool
    duration: int = 0


def _codec(name: str) -> RTCRtpCodecParameters:
    kind = "audio" if name == "opus" else "video"
    return RTCRtpCodecParameters(mimeType=f"{kind}/{name.upper() if name != 'opus' else name}",
                                 clockRate=CLOCK_RATES[name],
                                 channels=2 if name == "opus" else None)


def vp8_payload(payload: bytes) -> bytes:
    """The VP8 data after an RTP payload descriptor (RFC 7741 4.2): what aiortc's
    ``vp8_depayload`` gives (a unit test holds them equal), without building the
    descriptor.

    :raises ValueError: a payload shorter than its descriptor.
    """
    if not payload:
        raise ValueError("VPX descriptor is too short")
    size = 1
    if payload[0] & 0x80:  # X: the extension byte follows
        if len(payload) < 2:
            raise ValueError("VPX descriptor has truncated extended bits")
        ext, size = payload[1], 2
        if ext & 0x80:  # I: a picture id of 7 or 15 bits
            if len(payload) < 3:
                raise ValueError("VPX descriptor has truncated PictureID")
            size += 2 if payload[2] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            size += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX
            size += 1
    if len(payload) < size:
        raise ValueError("VPX descriptor is truncated")
    return payload[size:]


def vp8_frame(packets: list[tuple[int, int, bytes]]) -> bytes:
    """One frame's VP8 data from its RTP packets in order: :func:`vp8_payload` of each,
    joined, with the descriptor's usual shapes (1 byte, or an extension byte and a
    picture id) read inline.

    :raises ValueError: a payload shorter than its descriptor.
    """
    parts = []
    for _, _, payload in packets:
        size = len(payload)
        if size >= 4 and payload[0] & 0x80 and payload[1] & 0xF0 == 0x80:
            parts.append(payload[4 if payload[2] & 0x80 else 3:])  # X, I and a picture id
        elif size >= 1 and not payload[0] & 0x80:
            parts.append(payload[1:])
        else:
            parts.append(vp8_payload(payload))
    return b"".join(parts)


def _wrapped_order(packet: tuple[int, int, bytes]) -> int:
    # packets of a frame straddling sequence number 65535: 65535 before 0
    return (packet[0] - 0x8000) & 0xFFFF


def _vp8_starts_frame(payload: bytes) -> bool:
    # RFC 7741: S bit set and partition index 0
    return len(payload) > 0 and payload[0] & 0x10 != 0 and payload[0] & 0x0F == 0


class FrameAssembler:
    """RTP frames of one track in, :class:`Frame` s out (runs off the loop).

    A video frame with a missing packet, or after a lost frame, is dropped together with
    everything up to the next keyframe (:attr:`needs_keyframe` tells the caller to ask
    for one); a frame older than the last one is dropped.

    :param codec_name: ``vp8``, ``h264`` or ``opus``.
    """

    def __init__(self, codec_name: str) -> None:
        self.codec_name = codec_name
        self.clock_rate = CLOCK_RATES[codec_name]
        self._codec = _codec(codec_name)
        self._video = codec_name != "opus"
        self._first_ts: int | None = None
        self._last_ts = 0
        self._last_ext = 0
        self._last_seq: int | None = None
        self.needs_keyframe = self._video
        self.dropped = 0
        native.check()

    def push(self, timestamp: int, packets: list[tuple[int, int, bytes]],
             keyframe: bool) -> Frame | None:
        """One frame's ``(seq, marker, payload)`` s; the frame, or None if dropped."""
        first = self._first_ts is None
        if not first:
            delta = (timestamp - self._last_ts) & 0xFFFFFFFF
            if delta == 0 or delta >= 0x80000000:
                self.dropped += 1
                return None  # late or repeated: the timeline never goes back
        if len(packets) > 1:
            packets = sorted(packets)  # by sequence number, unless it wraps within them:
            if packets[-1][0] - packets[0][0] > 0x8000:
                packets = sorted(packets, key=_wrapped_order)
        if self._video and not self._whole(packets, keyframe):
            self.dropped += 1
            return None
        try:
            if self.codec_name == "opus":
                data = b"".join([p[2] for p in packets])
            elif self.codec_name == "vp8":
                data = b"".join([vp8_payload(p[2]) for p in packets])
            else:
                data = b"".join([depayload(self._codec, p[2]) for p in packets])
        except ValueError:
            self.needs_keyframe = self._video
            self.dropped += 1
            return None
        if first:
            self._first_ts = self._last_ts = timestamp
            return Frame(0, data, keyframe)
        self._last_ext += delta if delta < 0x80000000 else delta - (1 << 32)
        self._last_ts = timestamp
        return Frame(self._last_ext, data, keyframe)

    def push_all(self, batch: list[tuple[int, list, bool, float]]
                 ) -> tuple[list[Frame], float | None, float | None]:
        """:meth:`push` for each queued ``(timestamp, packets, keyframe, arrival)``; the
        frames kept, and the arrival times of the first and the last of them (None: none
        kept). VP8 and Opus (one packet a frame: its frames are the payloads, and nothing
        but the timeline is checked) take paths of their own, :meth:`push`'s rules in
        one loop over local variables, in C where :mod:`.native` is built (unit tests
        hold them equal to :meth:`push`). ``batch`` is a list."""
        c = native.module
        if self.codec_name == "vp8":
            if c is None:
                return self._push_all_vp8(batch)
            state = [self._first_ts, self._last_ts, self._last_ext, self._last_seq,
                     self.needs_keyframe, 0]
            kept = c.vp8_push_all(batch, state, Frame)
            self._first_ts, self._last_ts, self._last_ext, self._last_seq, \
                self.needs_keyframe, dropped = state
            self.dropped += dropped
            return kept
        if c is not None and not self._video:
            state = [self._first_ts, self._last_ts, self._last_ext, 0]
            kept = c.opus_push_all(batch, state, Frame)
            if kept is not None:  # None: a frame of other than one packet
                self._first_ts, self._last_ts, self._last_ext, dropped = state
                self.dropped += dropped
                return kept
        if self._video or any(len(packets) != 1 for _, packets, _, _ in batch):
            kept = [(frame, at) for timestamp, packets, keyframe, at in batch
                    if (frame := self.push(timestamp, packets, keyframe)) is not None]
            return ([f for f, _ in kept], kept[0][1] if kept else None,
                    kept[-1][1] if kept else None)
        frames: list[Frame] = []
        first_at = last_at = None
        last_ts, ext = self._last_ts, self._last_ext
        for timestamp, packets, keyframe, at in batch:
            if self._first_ts is None:
                self._first_ts = last_ts = timestamp
            else:
                delta = (timestamp - last_ts) & 0xFFFFFFFF
                if delta == 0 or delta >= 0x80000000:  # late or repeated
                    self.dropped += 1
                    continue
                ext += delta
                last_ts = timestamp
            frames.append(Frame(ext, packets[0][2], keyframe))
            first_at = first_at or at
            last_at = at
        self._last_ts, self._last_ext = last_ts, ext
        return frames, first_at, last_at

    def _push_all_vp8(self, batch: list[tuple[int, list, bool, float]]
                      ) -> tuple[list[Frame], float | None, float | None]:
        frames: list[Frame] = []
        first_at = last_at = None
        first_ts, last_ts, ext = self._first_ts, self._last_ts, self._last_ext
        last_seq, needs_keyframe, dropped = self._last_seq, self.needs_keyframe, 0
        for timestamp, packets, keyframe, at in batch:
            if first_ts is not None:
                delta = (timestamp - last_ts) & 0xFFFFFFFF
                if delta == 0 or delta >= 0x80000000:  # late or repeated
                    dropped += 1
                    continue
            count = len(packets)
            if count > 1:
                packets = sorted(packets)
                if packets[-1][0] - packets[0][0] > 0x8000:  # wraps within the frame
                    packets = sorted(packets, key=_wrapped_order)
            # whole: contiguous, starting a frame (S=1, partition 0), after the last one
            seq, end_seq, head = packets[0][0], packets[-1][0], packets[0][2]
            complete = (end_seq - seq) & 0xFFFF == count - 1 and len(head) > 0 \
                and head[0] & 0x1F == 0x10
            if not complete or (last_seq is not None and seq != (last_seq + 1) & 0xFFFF):
                needs_keyframe = True
            last_seq = end_seq
            if needs_keyframe and not (complete and keyframe):
                dropped += 1
                continue
            try:
                data = vp8_frame(packets)
            except ValueError:
                needs_keyframe = True
                dropped += 1
                continue
            needs_keyframe = False
            if first_ts is None:
                first_ts = last_ts = timestamp
            else:
                ext += delta
                last_ts = timestamp
            frames.append(Frame(ext, data, keyframe))
            first_at = first_at or at
            last_at = at
        self._first_ts, self._last_ts, self._last_ext = first_ts, last_ts, ext
        self._last_seq, self.needs_keyframe = last_seq, needs_keyframe
        self.dropped += dropped
        return frames, first_at, last_at

    def _whole(self, packets: list[tuple[int, int, bytes]], keyframe: bool) -> bool:
        """Whether a video frame can be written: complete, and decodable from what was."""
        first_seq, last_seq = packets[0][0], packets[-1][0]
        contiguous = (last_seq - first_seq) & 0xFFFF == len(packets) - 1
        complete = contiguous and (self.codec_name != "vp8" or _vp8_starts_frame(packets[0][2]))
        follows = self._last_seq is None or first_seq == (self._last_seq + 1) & 0xFFFF
        self._last_seq = last_seq
        if not complete or not follows:
            self.needs_keyframe = True
        if self.needs_keyframe and not (complete and keyframe):
            return False
        self.needs_keyframe = False
        return True
