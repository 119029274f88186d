"""A publisher's receive path trimmed to what a forwarding SFU needs.

aiortc's ``RTCRtpReceiver._handle_rtp_packet`` depayloads every packet and runs the
jitter buffer so that a decoder gets whole frames; the direct path then packetized the
frame again for its subscribers. :class:`RtpIngest` takes its place on the receiver:
it keeps what the publisher and the subscribers rely on (receiver-report statistics,
RTX unwrap, NACKs, the active SSRC for PLIs), sends a configured REMB cap instead of
running aiortc's delay-based estimator (:mod:`media_node.sfu.remb`), and hands each frame's
RTP payloads, descriptor included, to the subscribers as they came. Depayload and
jitter buffer run only while a pack-path subscriber needs whole frames.

Once a stream is flowing its packets bypass aiortc's transport code and arrive here
straight from the socket (:mod:`media_node.sfu.rxpath`); aiortc's path serves the first
packets of each SSRC and anything the socket path declines.
"""
from __future__ import annotations

import asyncio
import struct
import time
from typing import Callable

from aiortc import clock
from aiortc.codecs import depayload, is_rtx
from aiortc.rtp import (RTCP_PSFB_APP, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRtpfbPacket,
                        RtpPacket, pack_remb_fci)

from ..counters import COUNTERS
from ..internals import aiortc_internals
from .remb import RembSchedule, publisher_max_bitrate
from .rxpath import NackList, ReceiveStatistics, SocketRtpPath

# (sequence number, marker bit as 0x80 or 0, payload): one RTP packet for the subscribers
RtpPayload = tuple[int, int, bytes]
_HEADER = struct.Struct("!BBHLL")
TICK_MS = 1000  # active SSRC refresh (PLI target) and REMB


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


class RtpIngest:
    """Replaces the receiver's RTP handler (the DTLS transport awaits it).

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
        state = aiortc_internals.receiver_state(receiver)
        self._codecs = state.codecs
        self._streams = state.remote_streams
        self._active = state.active_ssrc
        self._rtx_ssrc = state.rtx_ssrc
        self._jitter = state.jitter_buffer
        self._mapper = state.timestamp_mapper
        self._nacks: dict[int, NackList] | None = None if self._audio else {}
        self._remb = RembSchedule(0 if self._audio else publisher_max_bitrate())
        self._media_ssrcs: list[int] = []
        self._tick_at = -1
        self._payload_types: dict[int, tuple[object, int | None]] = {}
        self._rtcp: list = []
        self._tasks: set[asyncio.Task] = set()
        self._codec = None
        self._timestamp = None
        self._frame: list[RtpPayload] = []
        self.socket_packets = 0  # packets that came by the socket path
        aiortc_internals.replace_rtp_handler(receiver, self.handle)

    async def handle(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """One packet by aiortc's path (parsed, SRTP already removed), on the loop."""
        r = self._r
        if not aiortc_internals.receiver_enabled(r):
            return
        self._receive(packet.ssrc, packet.payload_type, packet.sequence_number,
                      packet.timestamp, packet.marker, packet.payload, _now_ms())
        if packet.payload_type in self._codecs:
            path = SocketRtpPath.of(r.transport)
            if path is not None:
                path.claim(packet.ssrc, r, self.handle_datagram)
        await self._send_queued_rtcp()

    def handle_datagram(self, data: bytes) -> None:
        """One clear RTP datagram by the socket path, synchronously on the loop."""
        if not aiortc_internals.receiver_enabled(self._r) or len(data) < 12:
            return
        b0, b1, seq, timestamp, ssrc = _HEADER.unpack_from(data)
        pos = 12 + 4 * (b0 & 0x0F)
        end = len(data)
        if b0 & 0x10:  # header extension: skipped (MID and abs-send-time are not needed)
            if end < pos + 4:
                return
            pos += 4 + 4 * ((data[pos + 2] << 8) | data[pos + 3])
        if b0 & 0x20:  # padding
            end -= data[-1]
            if data[-1] == 0:
                return
        if pos > end:
            return
        self.socket_packets += 1
        COUNTERS.packets_in += 1
        COUNTERS.bytes_in += len(data)
        self._receive(ssrc, b1 & 0x7F, seq, timestamp, b1 >> 7, data[pos:end], _now_ms())
        if self._rtcp:
            task = asyncio.ensure_future(self._send_queued_rtcp())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_queued_rtcp(self) -> None:
        # NACKs and REMB: a few per second at most
        while self._rtcp:
            await aiortc_internals.send_rtcp(self._r, self._rtcp.pop(0))

    def _receive(self, ssrc: int, payload_type: int, seq: int, timestamp: int, marker: int,
                 payload: bytes, now_ms: int) -> None:
        kind = self._payload_types.get(payload_type)
        if kind is None:
            codec = self._codecs.get(payload_type)
            if codec is None:
                return
            apt = codec.parameters.get("apt") if is_rtx(codec) else None
            kind = self._payload_types[payload_type] = (codec, apt)
        codec, apt = kind
        stats = self._streams.get(ssrc)
        if stats is None:
            stats = self._streams[ssrc] = ReceiveStatistics(codec.clockRate)
        stats.add_rtp(seq, timestamp, now_ms)
        if apt is not None:  # RTX: the original sequence number leads the payload
            ssrc = self._rtx_ssrc.get(ssrc)
            if ssrc is None or len(payload) < 2 or apt not in self._codecs:
                return
            seq, payload = (payload[0] << 8) | payload[1], payload[2:]
            payload_type, codec = apt, self._codecs[apt]
        if now_ms >= self._tick_at:
            self._tick(ssrc, now_ms)
        if self._nacks is not None:
            nacks = self._nacks.get(ssrc)
            if nacks is None:
                nacks = self._nacks[ssrc] = NackList()
            missing = len(nacks.missing)
            if nacks.add(seq):
                COUNTERS.packets_lost += max(len(nacks.missing) - missing, 0)
                self._queue_nack(ssrc, sorted(nacks.missing))
        if not payload:
            return  # padding only
        self._forward(codec, timestamp, seq, marker, payload)
        if self._wants_frames():
            self._reassemble(codec, RtpPacket(payload_type, marker, seq, timestamp, ssrc,
                                              payload))

    def _tick(self, ssrc: int, now_ms: int) -> None:
        # about once a second: the PLI target (getSynchronizationSources) and REMB
        self._tick_at = now_ms + TICK_MS
        self._active[ssrc] = clock.current_datetime()
        if ssrc not in self._media_ssrcs:
            self._media_ssrcs.append(ssrc)
        rtcp_ssrc = aiortc_internals.receiver_rtcp_ssrc(self._r)
        if rtcp_ssrc is None:
            self._tick_at = now_ms  # not negotiated yet: look again at the next packet
        elif self._remb.due(now_ms):
            self._rtcp.append(RtcpPsfbPacket(
                fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0,
                fci=pack_remb_fci(self._remb.bitrate, list(self._media_ssrcs))))

    def _queue_nack(self, media_ssrc: int, lost: list[int]) -> None:
        rtcp_ssrc = aiortc_internals.receiver_rtcp_ssrc(self._r)
        if rtcp_ssrc is not None:
            packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=rtcp_ssrc, media_ssrc=media_ssrc)
            packet.lost = lost
            self._rtcp.append(packet)
            COUNTERS.nacks_sent += 1

    def _forward(self, codec, timestamp: int, seq: int, marker: int, payload: bytes) -> None:
        if self._audio:
            self._on_rtp_frame(codec, timestamp, [(seq, marker << 7, payload)])
            return
        if self._frame and timestamp != self._timestamp:
            self.flush()  # the last frame's marker was lost, or a late packet came
        self._codec, self._timestamp = codec, timestamp
        self._frame.append((seq, marker << 7, payload))
        if marker:
            self.flush()

    def flush(self) -> None:
        """Hand out the frame gathered so far."""
        frame, self._frame = self._frame, []
        if frame:
            self._on_rtp_frame(self._codec, self._timestamp, frame)

    def _reassemble(self, codec, packet: RtpPacket) -> None:
        # aiortc's own steps for whole frames: depayload, jitter buffer, rebase to 0
        try:
            aiortc_internals.set_depayloaded(packet, depayload(codec, packet.payload))
        except ValueError:
            return
        _, frame = self._jitter.add(packet)
        if frame is not None:
            frame.timestamp = self._mapper.map(frame.timestamp)
            aiortc_internals.decoder_queue(self._r).put((codec, frame))
