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

from ..internals import aioice_internals, aiortc_internals

logger = logging.getLogger(__name__)
FIRST_REPORT = (0.3, 1.0)
INTERVAL = (2.0, 4.0)


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
            self._send(sender.transport, [
                RtcpByePacket(sources=[aiortc_internals.sender_ssrc(sender)])])

    async def _run(self) -> None:
        await asyncio.sleep(random.uniform(*FIRST_REPORT))
        while True:
            self.report()
            await asyncio.sleep(random.uniform(*INTERVAL))

    def report(self) -> None:
        """Send one compound SR + SDES now."""
        for s in self._senders:
            sync = getattr(s, "_dropon_sync_counters", None)  # RtpWriter keeps the counts itself
            if sync is not None:
                sync()
        counters = {s: aiortc_internals.sender_counters(s) for s in self._senders
                    if aiortc_internals.sender_started(s)}
        started = [s for s, c in counters.items() if c.packet_count]
        if not started:
            return
        ssrc = aiortc_internals.sender_ssrc
        packets: list = [RtcpSrPacket(ssrc=ssrc(s), sender_info=RtcpSenderInfo(
            ntp_timestamp=counters[s].ntp_timestamp,
            rtp_timestamp=counters[s].rtp_timestamp,
            packet_count=counters[s].packet_count & 0xFFFFFFFF,
            octet_count=counters[s].octet_count & 0xFFFFFFFF)) for s in started]
        cname = aiortc_internals.sender_cname(started[0])
        if cname:
            packets.append(RtcpSdesPacket(chunks=[
                RtcpSourceInfo(ssrc=ssrc(s), items=[(1, cname.encode())]) for s in started]))
        self._send(started[0].transport, packets)

    @staticmethod
    def _send(transport, packets: list) -> None:
        srtp = aiortc_internals.tx_srtp(transport)
        if transport.state != "connected" or srtp is None:
            return
        try:
            data = srtp.protect_rtcp(b"".join(bytes(p) for p in packets))
            pair = aioice_internals.nominated_pair(aiortc_internals.ice_connection(transport))
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
