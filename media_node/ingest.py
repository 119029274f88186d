"""A publisher's receive path trimmed to what a forwarding SFU needs.

aiortc's ``RTCRtpReceiver._handle_rtp_packet`` depayloads every packet and runs the
jitter buffer so that a decoder gets whole frames; the direct path then packetized the
frame again for its subscribers. :class:`RtpIngest` takes its place on the receiver:
it keeps what the publisher and the subscribers rely on (REMB feedback, throttled;
receiver-report statistics, RTX unwrap, NACKs, the active SSRC for PLIs) and hands each
frame's RTP payloads, descriptor included, to the subscribers as they came. Depayload and jitter
buffer run only while a pack-path subscriber needs whole frames.
"""
from __future__ import annotations

from typing import Callable

from aiortc import clock
from aiortc.codecs import depayload, is_rtx
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci, unwrap_rtx

# (sequence number, marker bit as 0x80 or 0, payload): one RTP packet for the subscribers
RtpPayload = tuple[int, int, bytes]
_P = "_RTCRtpReceiver__"  # aiortc's private receiver state
REMB_INTERVAL_MS = 200


class RembThrottle:
    """When to pass a REMB estimate on to the publisher.

    aiortc sends one for every packet while its detector says "overusing", which a busy
    node's own loop delay triggers (a REMB per packet at 62 listeners, 4 % of the node's
    CPU). Like libwebrtc's ``RembThrottler``: at most one per ``REMB_INTERVAL_MS``, unless
    the estimate drops by more than 3 %.
    """

    def __init__(self) -> None:
        self._at = -1_000_000
        self._sent = 0

    def due(self, bitrate: int, now_ms: int) -> bool:
        """Whether to send ``bitrate`` now; if so, it counts as sent."""
        if now_ms - self._at < REMB_INTERVAL_MS and bitrate >= self._sent * 0.97:
            return False
        self._at, self._sent = now_ms, bitrate
        return True


class RtpIngest:
    """Replaces ``receiver._handle_rtp_packet`` (the DTLS transport awaits it).

    :param receiver: the publisher's ``RTCRtpReceiver``, before it starts.
    :param kind: ``audio`` (every packet is a frame) or ``video`` (frames end at the marker
        bit or a timestamp change).
    :param on_rtp_frame: ``(codec, timestamp, packets)`` per frame, on the loop.
    :param wants_frames: whether reassembled frames are needed too (pack path).
    """

    def __init__(self, receiver, kind: str,
                 on_rtp_frame: Callable[[object, int, list[RtpPayload]], None],
                 wants_frames: Callable[[], bool]) -> None:
        self._r = receiver
        self._audio = kind == "audio"
        self._on_rtp_frame = on_rtp_frame
        self._wants_frames = wants_frames
        self._codecs = getattr(receiver, _P + "codecs")
        self._streams = getattr(receiver, _P + "remote_streams")
        self._active = getattr(receiver, _P + "active_ssrc")
        self._rtx_ssrc = getattr(receiver, _P + "rtx_ssrc")
        self._nack = getattr(receiver, _P + "nack_generator")
        self._remb = getattr(receiver, _P + "remote_bitrate_estimator")
        self._jitter = getattr(receiver, _P + "jitter_buffer")
        self._mapper = getattr(receiver, _P + "timestamp_mapper")
        self._active_at = -1_000_000
        self._remb_throttle = RembThrottle()
        self._codec = None
        self._timestamp = None
        self._frame: list[RtpPayload] = []
        receiver._handle_rtp_packet = self.handle

    async def handle(self, packet, arrival_time_ms: int) -> None:
        """One incoming RTP packet (parsed, SRTP already removed), on the loop."""
        r = self._r
        if not r._enabled:
            return
        if self._remb is not None and packet.extensions.abs_send_time is not None:
            remb = self._remb.add(abs_send_time=packet.extensions.abs_send_time,
                                  arrival_time_ms=arrival_time_ms,
                                  payload_size=len(packet.payload) + packet.padding_size,
                                  ssrc=packet.ssrc)
            if remb is not None and self._remb_throttle.due(remb[0], arrival_time_ms):
                rtcp_ssrc = getattr(r, _P + "rtcp_ssrc")
                if rtcp_ssrc is not None:
                    await r._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc,
                                                      media_ssrc=0, fci=pack_remb_fci(*remb)))
        if arrival_time_ms - self._active_at > 1000:  # getSynchronizationSources (PLI)
            self._active_at = arrival_time_ms
            self._active[packet.ssrc] = clock.current_datetime()
        codec = self._codecs.get(packet.payload_type)
        if codec is None:
            return
        stats = self._streams.get(packet.ssrc)
        if stats is None:
            stats = self._streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        stats.add(packet)
        if is_rtx(codec):
            original_ssrc = self._rtx_ssrc.get(packet.ssrc)
            apt = codec.parameters.get("apt")
            if original_ssrc is None or len(packet.payload) < 2 or apt not in self._codecs:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
            codec = self._codecs[apt]
        if self._nack is not None and self._nack.add(packet):
            await r._send_rtcp_nack(packet.ssrc, sorted(self._nack.missing))
        if not packet.payload:
            return  # padding only
        self._forward(codec, packet)
        if self._wants_frames():
            self._reassemble(codec, packet)

    def _forward(self, codec, packet) -> None:
        if self._audio:
            self._on_rtp_frame(codec, packet.timestamp,
                               [(packet.sequence_number, packet.marker << 7, packet.payload)])
            return
        if self._frame and packet.timestamp != self._timestamp:
            self.flush()  # the last frame's marker was lost, or a late packet came
        self._codec, self._timestamp = codec, packet.timestamp
        self._frame.append((packet.sequence_number, packet.marker << 7, packet.payload))
        if packet.marker:
            self.flush()

    def flush(self) -> None:
        """Hand out the frame gathered so far."""
        frame, self._frame = self._frame, []
        if frame:
            self._on_rtp_frame(self._codec, self._timestamp, frame)

    def _reassemble(self, codec, packet) -> None:
        # aiortc's own steps for whole frames: depayload, jitter buffer, rebase to 0
        try:
            packet._data = depayload(codec, packet.payload)
        except ValueError:
            return
        _, frame = self._jitter.add(packet)
        if frame is not None:
            frame.timestamp = self._mapper.map(frame.timestamp)
            getattr(self._r, _P + "decoder_queue").put((codec, frame))
