"""RtpWriter on real SRTP and a real UDP socket: what a subscriber receives, packet by packet.

The aiortc sender, transceiver and ICE pair around the writer are stand-ins (only the
fields the writer reads); the SRTP sessions, the socket and the RTP parser are real.
"""
from __future__ import annotations

import asyncio
import os
import socket
from types import SimpleNamespace

import pytest
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from pylibsrtp import Policy, Session

from media_node.internals.pylibsrtp_internals import PROTECT_ADDRESS, address, srtp_session
from media_node.sfu import fanout
from media_node.sfu.fanout import MAX_PACKET, RtpWriter

from .helpers import run

pytestmark = pytest.mark.media
needs_c = pytest.mark.skipif(fanout._fanout is None,
                             reason="media_node/sfu/_fanout not built (make venv builds it)")


@pytest.fixture(autouse=True, params=["c", "python"])
def loop_impl(request):
    """Every writer test runs on the C packet loop and on the Python one."""
    if request.param == "c" and fanout._fanout is None:
        pytest.skip("media_node/sfu/_fanout not built (make venv builds it)")
    fanout.use_native(request.param)
    yield request.param
    fanout.use_native("auto")


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
    # room for a whole big frame before the loop gets to read it
    inbox_transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
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


def test_a_frame_longer_than_one_send_batch_arrives_whole_and_in_order():
    async def scenario():
        writer, _, received, close = await _writer_and_inbox()
        try:
            # a big keyframe: 150 packets, more than one sendmmsg batch (64)
            frame = [(1000 + i, 0x80 if i == 149 else 0, bytes([i]) * 200) for i in range(150)]
            assert writer.write(frame, 90000, 1)
            got = await received(150)
            assert [p.payload for p in got] == [payload for _, _, payload in frame]
            first = got[0].sequence_number
            assert [(p.sequence_number - first) & 0xFFFF for p in got] == list(range(150))
            assert [p.marker for p in got] == [0] * 149 + [1]
            # the NACK history holds the newest packets by outgoing sequence number
            entry = writer._history[(first + 140) & (len(writer._history) - 1)]
            assert entry[0] == (first + 140) & 0xFFFF and entry[3] == frame[140][2]
        finally:
            close()

    run(scenario())


def test_oversized_packets_are_skipped_and_the_rest_sent():
    async def scenario():
        writer, sender, received, close = await _writer_and_inbox()
        try:
            frame = [(1, 0, b"a" * (MAX_PACKET + 1)), (2, 0x80, b"\x10b")]
            assert writer.write(frame, 3000, 1)
            (got,) = await received(1)
            assert got.payload == b"\x10b" and got.marker == 1
            writer.sync_sender()
            assert sender._RTCRtpSender__packet_count == 1
        finally:
            close()

    run(scenario())


@needs_c
def test_c_and_python_loops_write_the_same_bytes(loop_impl):
    """Same SRTP key, header and payloads: the C loop's packets equal the Python loop's."""
    key = os.urandom(30)
    header = RtpPacket(payload_type=96, ssrc=42).serialize(HeaderExtensionsMap())
    frame = [(500 + i, 0x80 if i == 9 else 0, os.urandom(300 + i)) for i in range(10)]

    def protect_python(session) -> list[bytes]:
        out = []
        for seq, marker, payload in frame:
            packet = bytearray(header + payload)
            packet[1] = 96 | marker
            packet[2:4] = ((seq + 7) & 0xFFFF).to_bytes(2, "big")
            packet[4:8] = (123456).to_bytes(4, "big")
            out.append(session.protect(bytes(packet)))
        return out

    python_session = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    c_session = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    history = [None] * 64
    sent, octets, last, unsent = fanout._fanout.write_frame(
        PROTECT_ADDRESS, address(srtp_session(c_session)),
        -1, fanout._fanout.sockaddr("127.0.0.1", 9), header, 96, 7, 123456, frame, history,
        MAX_PACKET, False)  # not direct: every packet comes back, nothing is sent
    assert (sent, octets, last) == (10, sum(len(p) for _, _, p in frame), 516)
    assert unsent == protect_python(python_session)
    assert history[516 & 63] == (516, 96 | 0x80, 123456, frame[9][2])


@needs_c
@pytest.mark.parametrize("bad", [
    dict(packets=[(1, 0, "not bytes")]),
    dict(packets=[(1, 0)]),
    dict(history=[None] * 63),
    dict(sockaddr=b""),
])
def test_c_loop_refuses_bad_arguments_without_writing(loop_impl, bad):
    session = Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    args = dict(sockaddr=fanout._fanout.sockaddr("::1", 9), packets=[(1, 0, b"x")],
                history=[None] * 64)
    args.update(bad)
    with pytest.raises((TypeError, ValueError)):
        fanout._fanout.write_frame(
            PROTECT_ADDRESS, address(srtp_session(session)),
            -1, args["sockaddr"], b"\x80" * 12, 96, 0, 0, args["packets"], args["history"],
            MAX_PACKET, False)


@needs_c
def test_c_sockaddr_takes_ip_literals_only(loop_impl):
    """A zoned IPv6 or a host name has no C destination: the writer's Python loop sends."""
    assert len(fanout._fanout.sockaddr("127.0.0.1", 9)) == 16
    assert len(fanout._fanout.sockaddr("::1", 9)) == 28
    for bad in ("fe80::1%lo", "localhost", ""):
        with pytest.raises(ValueError):
            fanout._fanout.sockaddr(bad, 9)
    with pytest.raises(ValueError):
        fanout._fanout.sockaddr("127.0.0.1", 70000)
