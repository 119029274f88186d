"""RtpWriter on real SRTP and a real UDP socket: what a subscriber receives, packet by packet.

The aiortc sender, transceiver and ICE pair around the writer are stand-ins (only the
fields the writer reads); the SRTP sessions, the socket and the RTP parser are real.
"""
from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace

import pytest
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from pylibsrtp import Policy, Session

from media_node.fanout import RtpWriter

from .helpers import run

pytestmark = pytest.mark.media


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data, addr) -> None:
        self.datagrams.put_nowait(data)


async def _writer_and_inbox():
    loop = asyncio.get_running_loop()
    key = os.urandom(30)
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    inbox_transport, inbox = await loop.create_datagram_endpoint(
        _Inbox, local_addr=("127.0.0.1", 0))
    udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                 local_addr=("127.0.0.1", 0))
    pair = SimpleNamespace(protocol=SimpleNamespace(transport=udp),
                           remote_addr=inbox_transport.get_extra_info("sockname"))
    dtls = SimpleNamespace(state="connected", _tx_srtp=tx, transport=SimpleNamespace(
        _connection=SimpleNamespace(_nominated={1: pair})))
    sender = SimpleNamespace(_ssrc=1234, transport=dtls, replaceTrack=lambda track: None,
                             _RTCRtpSender__started=True, _RTCRtpSender__mid="0",
                             _RTCRtpSender__rtp_header_extensions_map=HeaderExtensionsMap())
    transceiver = SimpleNamespace(_codecs=[RTCRtpCodecParameters(
        mimeType="video/VP8", clockRate=90000, payloadType=96)])
    writer = RtpWriter("video", sender, transceiver)

    async def received(count: int) -> list[RtpPacket]:
        packets = []
        for _ in range(count):
            data = await asyncio.wait_for(inbox.datagrams.get(), 2)
            packets.append(RtpPacket.parse(rx.unprotect(data)))
        return packets

    def close() -> None:
        writer.stop()
        udp.close()
        inbox_transport.close()
    return writer, sender, received, close


def test_payloads_markers_and_sequence_gaps_reach_the_subscriber():
    async def scenario():
        writer, sender, received, close = await _writer_and_inbox()
        try:
            frame1 = [(100, 0, b"\x10a"), (101, 0x80, b"\x00b")]
            frame2 = [(103, 0x80, b"\x00c")]  # 102 was lost before the node
            assert writer.write(frame1, 9000, 1) and writer.write(frame2, 12000, 2)
            got = await received(3)
            assert [p.payload for p in got] == [b"\x10a", b"\x00b", b"\x00c"]
            assert [p.marker for p in got] == [0, 1, 1]
            assert {p.ssrc for p in got} == {1234} and {p.payload_type for p in got} == {96}
            first = got[0].sequence_number
            # the publisher's gap shows, so the subscriber can tell the loss
            assert [(p.sequence_number - first) & 0xFFFF for p in got] == [0, 1, 3]
            assert got[2].timestamp - got[0].timestamp == 3000

            # frames skipped (mute, waiting for a keyframe): no gap after a resync
            writer.resync()
            assert writer.write([(150, 0x80, b"\x10d")], 30000, 3)
            (after,) = await received(1)
            assert after.sequence_number == (first + 4) & 0xFFFF
            assert after.timestamp - got[0].timestamp == 21000

            # a duplicate from the publisher is not sent twice (SRTP would call it a replay)
            assert writer.write([(150, 0x80, b"\x10d")], 30000, 3)
            writer.sync_sender()
            assert sender._RTCRtpSender__packet_count == 4
            assert sender._RTCRtpSender__octet_count == 8
            assert sender._RTCRtpSender__rtp_timestamp == after.timestamp
        finally:
            close()

    run(scenario())
