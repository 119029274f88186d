"""The lean forwarding path: write a publisher's RTP payloads straight onto a subscriber's SRTP.

aiortc's sender costs a coroutine wake-up, a queue hop, an ``RtpPacket`` and an
``await`` per packet and subscriber. Here each :class:`RtpWriter` takes a frame's RTP
payloads as the publisher sent them (:mod:`media_node.sfu.ingest`), rewrites only the
header fields that differ per subscriber (sequence number, timestamp offset, payload
type, SSRC; the MID extension comes from a template), protects the packet in one
shared buffer and hands it to the UDP socket, synchronously, on the loop. The aiortc sender stays in place
for what it does well: RTCP (sender reports, RR, PLI, NACK) and the negotiated
parameters.

The per-packet loop runs in C (``_fanout.c``, built by ``media_node/build_native.py``) where that
module is built: the same steps, and one ``sendmmsg`` per frame instead of one
``sendto`` per packet. :func:`use_native` chooses (``DROPON_FANOUT``).
"""
from __future__ import annotations

import asyncio
import logging
import struct

from pylibsrtp import SRTP_MAX_TRAILER_LEN

from aiortc import MediaStreamTrack, clock
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket, wrap_rtx
from aiortc.utils import random32

from ..config import FANOUT_MODES, check_choice
from ..counters import COUNTERS
from ..internals import aioice_internals, aiortc_internals
from ..internals.pylibsrtp_internals import (PROTECT_ADDRESS, address, ffi, srtp_protect,
                                             srtp_session)

try:
    from . import _fanout
except ImportError:  # not built: the pure Python loop below does the same
    _fanout = None

logger = logging.getLogger(__name__)

MAX_SOCKET_BACKLOG = 256 * 1024  # bytes queued in asyncio's UDP transport
ROUTE_CHECK_FRAMES = 16  # frames between looks at the ICE pair and SRTP session
_HISTORY_MASK = RTP_HISTORY_SIZE - 1
assert RTP_HISTORY_SIZE & _HISTORY_MASK == 0
_HEADER = struct.Struct("!BHI")


# One scratch buffer for every subscriber: writers run synchronously on the loop, and
# a single buffer stays in cache where thousands of per-session ones would not.
_SCRATCH = bytearray(2048)
_SCRATCH_VIEW = memoryview(_SCRATCH)
_SCRATCH_PTR = ffi.from_buffer("char[]", _SCRATCH)
_LENGTH = ffi.new("int *")
MAX_PACKET = len(_SCRATCH) - SRTP_MAX_TRAILER_LEN
_native_write = _fanout.write_frame if _fanout is not None else None


def use_native(mode: str = "auto") -> bool:
    """Choose the packet loop: ``c``, ``python`` or ``auto`` (C where it is built).

    :returns: whether the C loop is in use.
    :raises RuntimeError: ``c`` was asked for and ``media_node/sfu/_fanout`` is not built.
    """
    global _native_write
    check_choice("DROPON_FANOUT", mode, FANOUT_MODES)
    if mode == "c" and _fanout is None:
        raise RuntimeError("DROPON_FANOUT=c but media_node/sfu/_fanout is not built "
                           "(python -m media_node.build_native)")
    if mode == "auto" and _fanout is None:
        logger.warning("media_node/sfu/_fanout is not built: forwarding with the Python loop")
    _native_write = _fanout.write_frame if mode != "python" and _fanout is not None else None
    return _native_write is not None


class _ParkedTrack(MediaStreamTrack):
    """Keeps the aiortc sender's RTP task asleep: it never yields a frame."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._ended = asyncio.get_running_loop().create_future()

    async def recv(self):
        await self._ended
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        if not self._ended.done():
            self._ended.set_result(None)


class RtpWriter:
    """One subscriber's copy of a published track, written below aiortc's sender.

    :param kind: ``audio`` or ``video``.
    :param sender: the subscriber's ``RTCRtpSender`` (its SSRC, MID, transport).
    :param transceiver: for the negotiated payload types.
    """

    def __init__(self, kind: str, sender, transceiver) -> None:
        self.kind = kind
        self.need_keyframe = kind == "video"
        self.frames_out = 0
        self.frames_dropped = 0
        self.packets_out = 0
        self.octets_out = 0
        self.backlogged = 0
        self._last: tuple[int, int] | None = None  # (NTP time, RTP timestamp) of the last frame
        self._frames_to_check = 0
        self._sender = sender
        self._transceiver = transceiver
        self._seq = random_sequence_number()  # the next one this subscriber expects
        self._seq_delta: int | None = None  # publisher's sequence number -> ours
        self._ts_offset = random32()
        self._rtx_seq = random_sequence_number()
        self._history: list[tuple | None] = [None] * RTP_HISTORY_SIZE
        self._pair = self._srtp = None
        self._header: bytes | None = None
        self._track = _ParkedTrack(kind)
        sender.replaceTrack(self._track)
        aiortc_internals.answer_nacks(sender, self._retransmit)  # from our own history
        sender._dropon_sync_counters = self.sync_sender  # SenderReports calls it before reporting
        aiortc_internals.silence_sender_rtcp(sender)  # SenderReports sends one compound SR per peer

    def _setup(self) -> bool:
        sender = self._sender
        codecs = aiortc_internals.negotiated_codecs(self._transceiver)
        if not aiortc_internals.sender_started(sender):
            return False
        if sender.transport.state != "connected" or not codecs:
            return False
        self._pt = codecs[0].payloadType
        self._rtx_pt = next((c.payloadType for c in codecs
                             if c.mimeType.lower().endswith("/rtx")
                             and c.parameters.get("apt") == self._pt), None)
        self._ext_map = aiortc_internals.sender_header_extensions(sender)
        template = RtpPacket(payload_type=self._pt, ssrc=aiortc_internals.sender_ssrc(sender))
        template.extensions.mid = aiortc_internals.sender_mid(sender)
        self._header = template.serialize(self._ext_map)
        self._dtls = sender.transport
        self._ice = aiortc_internals.ice_connection(sender.transport)
        return True

    def _route(self, pair, srtp) -> None:
        # cached per ICE pair and SRTP session: both change only on an ICE restart
        self._pair, self._srtp = pair, srtp
        self._udp = pair.protocol.transport
        self._addr = pair.remote_addr
        self._srtp_t = srtp_session(srtp)
        sock = getattr(self._udp, "_sock", None)
        self._sock_sendto = sock.sendto if sock is not None else self._udp.sendto
        # for the C loop: the raw socket, libsrtp context and destination; without a
        # socket or a plain IP literal (an IPv6 zone, say) the Python loop sends
        self._fd = sock.fileno() if sock is not None else -1
        self._ctx = address(self._srtp_t)
        self._sockaddr = None
        if _fanout is not None and self._fd >= 0:
            try:
                self._sockaddr = _fanout.sockaddr(*self._addr[:2])
            except (TypeError, ValueError):
                logger.info("no C send path to %r: the Python loop sends", self._addr)

    def resync(self) -> None:
        """Continue the sequence numbers from the next frame written (frames were skipped)."""
        self._seq_delta = None

    def write(self, packets: list[tuple[int, int, bytes]], timestamp: int,
              ntp_time: int) -> bool:
        """Send one frame's RTP payloads; ``False`` when the subscriber is not ready or slow.

        ``packets`` are ``(sequence number, marker bit (0x80 or 0), payload)`` as the
        publisher sent them.
        Sequence numbers keep the publisher's gaps (the subscriber can tell loss), shifted
        to continue this subscriber's own sequence after any skipped frames.
        """
        self._frames_to_check -= 1
        if self._frames_to_check < 0 and not self._check_route():
            return False
        udp = self._udp
        backlog = udp.get_write_buffer_size()
        if backlog > MAX_SOCKET_BACKLOG:
            self.backlogged += 1
            COUNTERS.queue_drops += 1
            return False
        delta = self._seq_delta
        if delta is None:
            delta = self._seq_delta = (self._seq - packets[0][0]) & 0xFFFF
        ts = (self._ts_offset + timestamp) & 0xFFFFFFFF
        native = _native_write
        # is_closing: asyncio closes the socket (and frees its fd) soon after
        if native is not None and self._sockaddr is not None and not udp.is_closing():
            # straight to the socket while asyncio has nothing queued for it (keeps order)
            sent, octets, seq, unsent = native(
                PROTECT_ADDRESS, self._ctx, self._fd, self._sockaddr, self._header,
                self._pt, delta, ts, packets, self._history, MAX_PACKET, not backlog)
            if unsent:
                for data in unsent:  # asyncio copies and queues it, keeps order, counts it
                    udp.sendto(data, self._addr)
        else:
            sent, octets, seq = self._write_python(packets, delta, ts, udp, backlog)
        if (seq - self._seq) & 0xFFFF < 0x8000:  # not a late packet: the sequence moves on
            self._seq = (seq + 1) & 0xFFFF
        # for the sender reports (lip sync, receiver stats); see sync_sender
        self.packets_out += sent
        self.octets_out += octets
        COUNTERS.packets_out += sent
        COUNTERS.bytes_out += octets
        self.frames_out += 1
        self._last = (ntp_time, ts)
        return True

    def _write_python(self, packets, delta: int, ts: int, udp, backlog: int):
        """The C loop's steps in Python, one ``sendto`` per packet."""
        # straight to the socket while asyncio has nothing queued for it (keeps order)
        sendto = udp.sendto if backlog else self._sock_sendto
        srtp_t, addr, header, history = self._srtp_t, self._addr, self._header, self._history
        h, pt, max_packet = len(header), self._pt, MAX_PACKET
        buf, view, length, ptr, pack_into = _SCRATCH, _SCRATCH_VIEW, _LENGTH, _SCRATCH_PTR, \
            _HEADER.pack_into
        octets = sent = 0
        for in_seq, marker, payload in packets:
            seq = (in_seq + delta) & 0xFFFF
            n = h + len(payload)
            if n > max_packet:
                continue  # larger than any MTU: not forwarded
            buf[:h] = header
            pack_into(buf, 1, pt | marker, seq, ts)
            buf[h:n] = payload
            length[0] = n
            if srtp_protect(srtp_t, ptr, length):
                continue  # e.g. a duplicate from the publisher: libsrtp refuses a replay
            history[seq & _HISTORY_MASK] = (seq, pt | marker, ts, payload)
            try:
                sendto(view[:length[0]], addr)
            except (BlockingIOError, InterruptedError):
                sendto = udp.sendto  # asyncio copies and queues it, keeps order, counts it
                sendto(view[:length[0]], addr)
            except OSError:
                pass  # e.g. ICMP unreachable from a vanished peer; ICE consent will tell
            octets += n - h
            sent += 1
        return sent, octets, seq

    def _check_route(self) -> bool:
        # the ICE pair and SRTP session change only on an ICE restart or a new DTLS
        # session: look them up every few frames, not per frame
        self._frames_to_check = ROUTE_CHECK_FRAMES
        if self._header is None and not self._setup():
            self._frames_to_check = 0
            return False
        pair = aioice_internals.nominated_pair(self._ice)
        srtp = aiortc_internals.tx_srtp(self._dtls)
        if pair is not self._pair or srtp is not self._srtp:
            if pair is None or srtp is None or pair.protocol.transport is None:
                self._frames_to_check = 0
                return False
            self._route(pair, srtp)
        if self._udp.is_closing():
            self._frames_to_check = 0
            return False
        return True

    def sync_sender(self) -> None:
        """Copy the counters into the aiortc sender, whose fields the reports read."""
        if self._last is None:
            return
        aiortc_internals.set_sender_counters(self._sender, aiortc_internals.SenderCounters(
            *self._last, self.packets_out, self.octets_out))

    async def _retransmit(self, sequence_number: int) -> None:
        # libsrtp refuses to protect the same index twice, so only RTX can resend
        COUNTERS.nacks_received += 1
        entry = self._history[sequence_number & _HISTORY_MASK]
        if entry is None or entry[0] != sequence_number or self._rtx_pt is None:
            return
        seq, marker_pt, ts, payload = entry
        header = bytearray(self._header)
        _HEADER.pack_into(header, 1, marker_pt, seq, ts)
        packet = RtpPacket.parse(bytes(header) + payload, self._ext_map)
        rtx = wrap_rtx(packet, payload_type=self._rtx_pt, sequence_number=self._rtx_seq,
                       ssrc=aiortc_internals.sender_rtx_ssrc(self._sender))
        self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
        COUNTERS.rtx_sent += 1
        try:
            await aiortc_internals.send_rtp(self._dtls, rtx.serialize(self._ext_map))
        except ConnectionError:
            pass

    @property
    def sender(self):
        """The subscriber's ``RTCRtpSender`` this writer writes for."""
        return self._sender

    def stop(self) -> None:
        """Release the sender's parked RTP task."""
        self._track.stop()
