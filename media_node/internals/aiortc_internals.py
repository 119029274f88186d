"""What the node takes from aiortc 1.16 beyond its public API.

A forwarding SFU works below aiortc's sender and receiver: it writes SRTP itself and
keeps the sender for RTCP, answers NACKs from its own history, relays keyframe
requests, replaces the receiver's RTP handler and decoder queue, and binds ICE sockets
itself. aiortc has no public hooks for any of that, so these are its private
attributes (name-mangled ``__x`` ones included), each reached only through here.
"""
from __future__ import annotations

import asyncio
from typing import NamedTuple

# (where, attribute): checked by tests/unit/test_media_node_internals.py on live objects
RELIED_ON = (
    ("RTCPeerConnection", "_RTCPeerConnection__gather"),
    ("RTCPeerConnection", "_RTCPeerConnection__iceTransports"),
    ("RTCIceGatherer", "_connection"),
    ("RTCIceTransport", "_connection"),
    ("RTCRtpTransceiver", "_codecs"),
    ("RTCRtpTransceiver", "_offerDirection"),
    ("RTCRtpSender", "_ssrc"),
    ("RTCRtpSender", "_rtx_ssrc"),
    ("RTCRtpSender", "_retransmit"),
    ("RTCRtpSender", "_send_keyframe"),
    ("RTCRtpSender", "_run_rtcp"),
    ("RTCRtpSender", "_RTCRtpSender__started"),
    ("RTCRtpSender", "_RTCRtpSender__mid"),
    ("RTCRtpSender", "_RTCRtpSender__cname"),
    ("RTCRtpSender", "_RTCRtpSender__rtp_header_extensions_map"),
    ("RTCRtpSender", "_RTCRtpSender__ntp_timestamp"),
    ("RTCRtpSender", "_RTCRtpSender__rtp_timestamp"),
    ("RTCRtpSender", "_RTCRtpSender__packet_count"),
    ("RTCRtpSender", "_RTCRtpSender__octet_count"),
    ("RTCRtpSender", "_RTCRtpSender__rtcp_started"),
    ("RTCRtpSender", "_RTCRtpSender__rtcp_exited"),
    ("RTCRtpReceiver", "_enabled"),
    ("RTCRtpReceiver", "_handle_rtp_packet"),
    ("RTCRtpReceiver", "_send_rtcp"),
    ("RTCRtpReceiver", "_send_rtcp_pli"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__codecs"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__remote_streams"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__active_ssrc"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__rtx_ssrc"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__rtcp_ssrc"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__jitter_buffer"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__timestamp_mapper"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__decoder_queue"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__decoder_thread"),
    ("RTCDtlsTransport", "_rx_srtp"),
    ("RTCDtlsTransport", "_tx_srtp"),
    ("RTCDtlsTransport", "_send_rtp"),
    ("RTCDtlsTransport", "_rtp_router"),
    ("RTCDtlsTransport", "_RTCDtlsTransport__rx_packets"),
    ("RTCDtlsTransport", "_RTCDtlsTransport__rx_bytes"),
    ("RTCDtlsTransport", "_RTCDtlsTransport__tx_packets"),
    # set on each packet by the receiver, read by the jitter buffer (checked in its source)
    ("JitterBuffer", "_data"),
)

_SENDER = "_RTCRtpSender__"
_RECEIVER = "_RTCRtpReceiver__"
_RX_PACKETS = "_RTCDtlsTransport__rx_packets"
_RX_BYTES = "_RTCDtlsTransport__rx_bytes"
_TX_PACKETS = "_RTCDtlsTransport__tx_packets"


# --- peer connection and ICE transports ---------------------------------------------

def wrap_gathering(pc, wrap) -> None:
    """Run ``wrap(gather)`` instead of the gathering step of ``setLocalDescription``,
    which gathers every ICE transport, those of later renegotiations included."""
    pc._RTCPeerConnection__gather = wrap(pc._RTCPeerConnection__gather)


def ice_transports(pc) -> list:
    """The peer connection's ``RTCIceTransport`` s, created lazily by aiortc."""
    return pc._RTCPeerConnection__iceTransports


def gatherer_connection(ice_transport):
    """The aioice ``Connection`` an ICE transport gathers on."""
    return ice_transport.iceGatherer._connection


def ice_connection(dtls):
    """The aioice ``Connection`` under a DTLS transport (``None`` if aiortc changed)."""
    return getattr(dtls.transport, "_connection", None)


# --- transceivers -------------------------------------------------------------------

def negotiated_codecs(transceiver) -> list:
    """The transceiver's codecs; the sender uses the first."""
    return transceiver._codecs


def set_negotiated_codecs(transceiver, codecs: list) -> None:
    """Reorder the negotiated codecs (forwarding cannot translate them)."""
    transceiver._codecs = codecs


def offered_direction(transceiver) -> str | None:
    """The direction of the remote offer for this transceiver, before it is current."""
    return getattr(transceiver, "_offerDirection", None)


# --- senders ------------------------------------------------------------------------

class SenderCounters(NamedTuple):
    """What a sender report states: the last frame's NTP and RTP time, the counts."""

    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int


def relay_keyframe_requests(sender, request) -> None:
    """Call ``request()`` on a PLI/FIR for ``sender``: aiortc only flags its encoder."""
    sender._send_keyframe = request


def answer_nacks(sender, retransmit) -> None:
    """Answer NACKs with ``await retransmit(sequence_number)`` instead of the sender's
    own history (which the direct path never fills)."""
    sender._retransmit = retransmit


def sender_started(sender) -> bool:
    """Whether ``send()`` has run (negotiated parameters, MID, header extensions set)."""
    return getattr(sender, _SENDER + "started", False)


def sender_ssrc(sender) -> int:
    """The SSRC the sender sends with."""
    return sender._ssrc


def sender_rtx_ssrc(sender) -> int:
    """The SSRC of the sender's retransmissions."""
    return sender._rtx_ssrc


def sender_mid(sender) -> str | None:
    """The MID the sender writes in each packet's header extension."""
    return getattr(sender, _SENDER + "mid")


def sender_header_extensions(sender):
    """The sender's negotiated ``HeaderExtensionsMap``."""
    return getattr(sender, _SENDER + "rtp_header_extensions_map")


def sender_cname(sender) -> str | None:
    """The CNAME the sender's SDES carries."""
    return getattr(sender, _SENDER + "cname")


def sender_counters(sender) -> SenderCounters:
    """The counters aiortc's sender reports read."""
    return SenderCounters(*(getattr(sender, _SENDER + name) for name in SenderCounters._fields))


def set_sender_counters(sender, counters: SenderCounters) -> None:
    """Set what the sender reports and its ``getStats`` state."""
    for name, value in zip(SenderCounters._fields, counters):
        setattr(sender, _SENDER + name, value)


def silence_sender_rtcp(sender) -> None:
    """Replace the sender's own RTCP task (set up in ``send()``) by an idle one.

    Must run before ``send()``. ``stop()`` still finds its started/exited events.
    """
    async def idle() -> None:
        getattr(sender, _SENDER + "rtcp_started").set()
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            pass
        finally:
            getattr(sender, _SENDER + "rtcp_exited").set()

    sender._run_rtcp = idle


# --- receivers ----------------------------------------------------------------------

class ReceiverState(NamedTuple):
    """The receiver's own tables, which an ingest replacing its RTP handler keeps up."""

    codecs: dict
    remote_streams: dict
    active_ssrc: dict
    rtx_ssrc: dict
    jitter_buffer: object
    timestamp_mapper: object


def receiver_state(receiver) -> ReceiverState:
    """The receiver's tables (the same objects, updated in place)."""
    return ReceiverState(*(getattr(receiver, _RECEIVER + name)
                           for name in ReceiverState._fields))


def receiver_rtcp_ssrc(receiver) -> int | None:
    """The SSRC the receiver's RTCP is sent with; ``None`` until negotiated."""
    return getattr(receiver, _RECEIVER + "rtcp_ssrc")


def receiver_rtx_ssrcs(receiver) -> dict:
    """RTX SSRC -> media SSRC, as negotiated."""
    return getattr(receiver, _RECEIVER + "rtx_ssrc", {})


def receiver_enabled(receiver) -> bool:
    """Whether the receiver takes packets (its transceiver receives)."""
    return receiver._enabled


def replace_rtp_handler(receiver, handle) -> None:
    """Route the receiver's RTP to ``await handle(packet, arrival_time_ms)``."""
    receiver._handle_rtp_packet = handle


async def send_rtcp(receiver, packet) -> None:
    """Send one RTCP packet (NACK, REMB) from the receiver."""
    await receiver._send_rtcp(packet)


async def send_pli(receiver, media_ssrc: int) -> None:
    """Ask the publisher of ``media_ssrc`` for a keyframe."""
    await receiver._send_rtcp_pli(media_ssrc)


def replace_decoder_queue(receiver, queue) -> None:
    """Hand the receiver's complete frames to ``queue.put`` instead of its decoder.

    :raises RuntimeError: the receiver has started, or this aiortc has no such queue.
    """
    if getattr(receiver, _RECEIVER + "decoder_thread", None) is not None:
        raise RuntimeError("receiver already started; attach the tap from the track event")
    if not hasattr(receiver, _RECEIVER + "decoder_queue"):
        raise RuntimeError("unsupported aiortc version: no decoder queue to tap")
    setattr(receiver, _RECEIVER + "decoder_queue", queue)


def decoder_queue(receiver):
    """Where the receiver puts ``(codec, frame)`` for decoding."""
    return getattr(receiver, _RECEIVER + "decoder_queue")


def set_depayloaded(packet, data: bytes) -> None:
    """Give a packet the depayloaded bytes the jitter buffer joins into a frame."""
    packet._data = data


# --- DTLS transports ----------------------------------------------------------------

def has_receive_counter(dtls) -> bool:
    """Whether the DTLS transport counts received datagrams."""
    return hasattr(dtls, _RX_PACKETS)


def received_packets(dtls) -> int:
    """Datagrams the DTLS transport has received (before authentication)."""
    return getattr(dtls, _RX_PACKETS)


def count_received(dtls, size: int) -> None:
    """Count a datagram handled below the transport, as the transport would."""
    setattr(dtls, _RX_PACKETS, getattr(dtls, _RX_PACKETS) + 1)
    setattr(dtls, _RX_BYTES, getattr(dtls, _RX_BYTES) + size)


def sent_packets(dtls) -> int:
    """Datagrams the DTLS transport has sent (the load tools count a publisher's)."""
    return getattr(dtls, _TX_PACKETS)


def rx_srtp(dtls):
    """The pylibsrtp session that unprotects received SRTP; ``None`` before DTLS."""
    return dtls._rx_srtp


def tx_srtp(dtls):
    """The pylibsrtp session that protects sent SRTP; ``None`` before DTLS."""
    return dtls._tx_srtp


async def send_rtp(dtls, data: bytes) -> None:
    """Protect and send one RTP packet on the transport."""
    await dtls._send_rtp(data)


def ssrc_table(dtls) -> dict:
    """The RTP router's SSRC -> receiver table."""
    return dtls._rtp_router.ssrc_table
