"""A publisher's SRTP packets read at the socket, without aiortc's per-packet hops.

aiortc hands every received datagram through aioice's STUN parser, an ``asyncio.Queue``
(a future and a task wake-up per packet), five coroutine frames, ``RtpPacket.parse`` with
its header-extension parsing, and the RTP router before the receiver sees it. With the
publishers alone that was about 40 % of the node's CPU (py-spy, docs/media-node.md).
:class:`SocketRtpPath` wraps ``datagram_received`` of the connection's aioice protocols:
an SRTP (not SRTCP) datagram whose SSRC an :class:`~media_node.sfu.ingest.RtpIngest` has
claimed is unprotected and handed to it right there, synchronously; everything else
(STUN, DTLS, RTCP, unclaimed SSRCs) takes aiortc's own path unchanged.

Ingests claim an SSRC only from aiortc's path, and only while aioice's queue is empty,
so no packet of that SSRC can be overtaken by a later one. Each datagram is still
counted in ``RTCDtlsTransport``'s received counters (``getStats``, the receive
watchdog), and the RTP router still decides which receiver owns an SSRC: a packet
whose receiver the router no longer maps goes to aiortc's path.
"""
from __future__ import annotations

import logging
from typing import Callable

import pylibsrtp
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.utils import uint16_add, uint16_gt

from ..internals import aioice_internals, aiortc_internals

logger = logging.getLogger(__name__)
_ATTR = "_dropon_socket_rtp_path"
NACK_HISTORY = 128  # like aiortc's NackGenerator (RTP_HISTORY_SIZE)


class SocketRtpPath:
    """The socket-level RTP path of one ``RTCDtlsTransport`` (one per connection).

    Use :meth:`of` to get it; it hooks the connection's protocols on creation.
    """

    def __init__(self, dtls) -> None:
        self._dtls = dtls
        self._connection = aiortc_internals.ice_connection(dtls)
        self._ssrc_table = aiortc_internals.ssrc_table(dtls)
        self._claims: dict[int, tuple[object, Callable[[bytes], None]]] = {}
        self.packets = 0  # handled here (tests and measurements read it)
        for protocol in aioice_internals.protocols(self._connection):
            protocol.datagram_received = self._wrap(protocol.datagram_received)

    @classmethod
    def of(cls, dtls) -> "SocketRtpPath | None":
        """The path of ``dtls``, created on first use; None when aioice's internals differ."""
        path = getattr(dtls, _ATTR, None)
        if path is None:
            try:
                path = cls(dtls)
            except AttributeError:  # another aiortc/aioice version: keep aiortc's path
                logger.warning("socket RTP path unavailable; using aiortc's receive path")
                path = False
            setattr(dtls, _ATTR, path)
        return path or None

    def claim(self, ssrc: int, receiver, handle: Callable[[bytes], None]) -> bool:
        """Route ``ssrc``'s SRTP packets to ``handle(rtp_bytes)`` from now on.

        Only from aiortc's path (so its queue holds every earlier packet), and only
        when that queue is empty. :returns: whether the claim took effect.
        """
        claim = self._claims.get(ssrc)
        if claim is not None and claim[0] is receiver:
            return True
        if not aioice_internals.receive_queue_empty(self._connection):
            return False
        self._claims[ssrc] = (receiver, handle)
        return True

    def _wrap(self, original: Callable[[bytes, tuple], None]) -> Callable[[bytes, tuple], None]:
        dtls, claims, ssrc_table = self._dtls, self._claims, self._ssrc_table
        from_bytes, rx_srtp = int.from_bytes, aiortc_internals.rx_srtp
        count_received = aiortc_internals.count_received

        def datagram_received(data: bytes, addr: tuple) -> None:
            # SRTP: first byte 128-191 (version 2); SRTCP packet types are 192-223
            if claims and len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
                ssrc = from_bytes(data[8:12], "big")
                claim = claims.get(ssrc)
                srtp = rx_srtp(dtls)
                if claim is not None and srtp is not None and ssrc_table.get(ssrc) is claim[0]:
                    count_received(dtls, len(data))
                    self.packets += 1
                    try:
                        claim[1](srtp.unprotect(data))
                    except pylibsrtp.Error:
                        pass  # replayed or not authentic: dropped, as aiortc does
                    except Exception:  # never let one packet close the socket
                        logger.exception("RTP packet handling failed")
                    return
            original(data, addr)

        return datagram_received


class ReceiveStatistics(StreamStatistics):
    """aiortc's ``StreamStatistics`` (RR loss, jitter, ``getStats``) fed by fields.

    ``add_rtp`` does what ``StreamStatistics.add`` does, from the sequence number,
    timestamp and an arrival time the caller already has, instead of a packet object
    and a clock read per packet.
    """

    def add_rtp(self, seq: int, timestamp: int, arrival_ms: int) -> None:
        """Count one packet (``arrival_ms`` from any monotonic millisecond clock)."""
        max_seq = self.max_seq
        self.packets_received += 1
        if max_seq is None:
            self.base_seq = seq
        elif not uint16_gt(seq, max_seq):
            return  # late or repeated: counted, not used for jitter
        elif seq < max_seq:
            self.cycles += 1 << 16
        self.max_seq = seq
        arrival = arrival_ms * self._clockrate // 1000
        last = self._last_timestamp
        if timestamp != last and self.packets_received > 1 and last is not None:
            diff = abs((arrival - self._last_arrival) - (timestamp - last))
            self._jitter_q4 += diff - ((self._jitter_q4 + 8) >> 4)
        self._last_arrival = arrival
        self._last_timestamp = timestamp


class NackList:
    """Missing sequence numbers of one stream, as aiortc's ``NackGenerator`` keeps them.

    :attr missing: sequence numbers not received, within ``NACK_HISTORY`` of the newest.
    """

    def __init__(self) -> None:
        self.max_seq: int | None = None
        self.missing: set[int] = set()

    def add(self, seq: int) -> bool:
        """Mark ``seq`` received; :returns: whether it revealed newly missing packets."""
        max_seq = self.max_seq
        if max_seq is None:
            self.max_seq = seq
            return False
        missed = False
        if uint16_gt(seq, max_seq):
            if seq != (max_seq + 1) & 0xFFFF:
                s = uint16_add(max_seq, 1)
                while uint16_gt(seq, s):
                    self.missing.add(s)
                    s = uint16_add(s, 1)
                missed = True
            self.max_seq = seq
        elif self.missing:
            self.missing.discard(seq)
        if self.missing:
            oldest = uint16_add(self.max_seq, -NACK_HISTORY)
            for s in [s for s in self.missing if uint16_gt(oldest, s)]:
                self.missing.discard(s)
        return missed
