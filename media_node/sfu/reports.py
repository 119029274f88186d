"""RTCP sender reports for a subscriber's forwarded tracks, one compound packet per peer.

aiortc runs one RTCP task per sender: an SR and an SDES, protected and sent on its own,
every 0.5-1.5 s. With 4 forwarded tracks per listener that was about a quarter of the
node's CPU at 62 listeners. :class:`SenderReports` replaces those tasks for the direct
path's senders with one compound packet (every SR plus one SDES) per peer connection,
every 2-4 s after a first one within a second, which is what receivers need for
lip sync and statistics.
"""
from __future__ import annotations

import asyncio
import logging
import random

from aiortc.rtp import (RtcpByePacket, RtcpSdesPacket, RtcpSenderInfo, RtcpSourceInfo,
                        RtcpSrPacket)

logger = logging.getLogger(__name__)
FIRST_REPORT = (0.3, 1.0)
INTERVAL = (2.0, 4.0)


def silence_sender_rtcp(sender) -> None:
    """Replace the sender's own RTCP task (set up in ``send()``) by an idle one.

    Must run before ``send()``. ``stop()`` still finds its started/exited events.
    """
    async def idle() -> None:
        sender._RTCRtpSender__rtcp_started.set()
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            pass
        finally:
            sender._RTCRtpSender__rtcp_exited.set()

    sender._run_rtcp = idle


class SenderReports:
    """Periodic compound SR for the started senders of one peer connection."""

    def __init__(self) -> None:
        self._senders: set = set()
        self._task: asyncio.Task | None = None

    def add(self, sender) -> None:
        """Report for ``sender`` from now on (its own RTCP task must be silenced)."""
        self._senders.add(sender)
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def discard(self, sender) -> None:
        """Stop reporting for ``sender``; say BYE for its SSRC."""
        if sender in self._senders:
            self._senders.discard(sender)
            self._send(sender.transport, [RtcpByePacket(sources=[sender._ssrc])])

    async def _run(self) -> None:
        await asyncio.sleep(random.uniform(*FIRST_REPORT))
        while True:
            self.report()
            await asyncio.sleep(random.uniform(*INTERVAL))

    def report(self) -> None:
        """Send one compound SR + SDES now."""
        for s in self._senders:
            sync = getattr(s, "_sync_counters", None)  # RtpWriter keeps the counts itself
            if sync is not None:
                sync()
        started = [s for s in self._senders
                   if s._RTCRtpSender__started and s._RTCRtpSender__packet_count]
        if not started:
            return
        packets: list = [RtcpSrPacket(ssrc=s._ssrc, sender_info=RtcpSenderInfo(
            ntp_timestamp=s._RTCRtpSender__ntp_timestamp,
            rtp_timestamp=s._RTCRtpSender__rtp_timestamp,
            packet_count=s._RTCRtpSender__packet_count & 0xFFFFFFFF,
            octet_count=s._RTCRtpSender__octet_count & 0xFFFFFFFF)) for s in started]
        cname = started[0]._RTCRtpSender__cname
        if cname:
            packets.append(RtcpSdesPacket(chunks=[
                RtcpSourceInfo(ssrc=s._ssrc, items=[(1, cname.encode())]) for s in started]))
        self._send(started[0].transport, packets)

    @staticmethod
    def _send(transport, packets: list) -> None:
        srtp = transport._tx_srtp
        if transport.state != "connected" or srtp is None:
            return
        try:
            data = srtp.protect_rtcp(b"".join(bytes(p) for p in packets))
            pair = transport.transport._connection._nominated.get(1)
            if pair is not None and pair.protocol.transport is not None:
                pair.protocol.transport.sendto(data, pair.remote_addr)
        except Exception as exc:  # a report is never worth failing the session for
            logger.debug("sender report not sent: %s", exc)

    def close(self) -> None:
        """Cancel the timer (the peer connection is closing)."""
        self._senders.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None
