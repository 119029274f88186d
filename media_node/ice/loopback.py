"""Keep WebRTC media on loopback in local mode.

aioice skips 127.0.0.1 when it gathers host candidates and, left alone, offers the
machine's interface addresses; aiortc also adds a public STUN server by default.
Both would send traffic off the machine, so local mode gathers 127.0.0.1 only, uses
no ICE servers, and drops remote candidates outside 127.0.0.0/8 (``.local`` mDNS
names included, which would otherwise trigger multicast lookups).
"""
from __future__ import annotations

import ipaddress
import socket

from aiortc import RTCBundlePolicy, RTCConfiguration

from ..internals import aioice_internals, aiortc_internals


def restrict_to_loopback(enabled: bool = True, address: str = "127.0.0.1") -> None:
    """Make every aiortc peer in this process gather only ``address`` (loopback).

    :param enabled: ``False`` restores aioice's own address discovery.
    :param address: another 127.x address, for tests of the announced address.
    """
    def loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [address] if use_ipv4 else []

    aioice_internals.set_host_addresses(loopback_addresses if enabled else None)


def tolerate_consent_misses(failures: int) -> None:
    """Close a connection only after ``failures`` consent checks in a row went unanswered.

    aioice checks consent every ~5 s, waits 0.5 s for each answer, never retransmits,
    and closes after 6 misses. A node whose event loop lags by half a second for 30 s
    (a starved CPU) then closed every publisher and the room went dark, which the load
    benchmark saw. This no longer sets when a vanished peer is noticed: the receive
    watchdog (``liveness.py``) ends a peer silent for ``DROPON_SILENT_TIMEOUT`` s, and
    a consent expiry while the peer is still heard only restarts the checks. Expiry
    still closes a connection whose peer is unheard (the watchdog's own backstop).
    """
    aioice_internals.set_consent_failures(failures)


def rtc_configuration() -> RTCConfiguration:
    """No STUN/TURN servers (aiortc defaults to Google's), and max-bundle.

    With aiortc's default "balanced" policy a second transceiver of a kind shares the
    first one's transport and is then skipped when BUNDLE moves everything onto the
    primary transport: it is never connected and its track never flows.
    """
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def is_loopback(address: str) -> bool:
    """True for an IP literal inside 127.0.0.0/8 (or ::1)."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _candidate_address(line: str) -> str:
    # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ ...
    parts = line.split()
    return parts[4] if len(parts) > 5 else ""


def filter_candidates(sdp: str) -> str:
    """Drop ``a=candidate`` lines whose address is not loopback.

    Works on full SDP and on trickle-ice-sdpfrag bodies alike.
    """
    kept = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:") and not is_loopback(_candidate_address(line)):
            continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


SOCKET_BUFFER = 2 * 1024 * 1024


def enlarge_socket_buffers(pc, size: int = SOCKET_BUFFER) -> None:
    """Give a connected peer's UDP sockets room for bursts and short event-loop stalls.

    The kernel default (about 208 KiB) holds well under a second of a publisher's
    packets at their in-kernel size, so a busy loop would drop them before aiortc
    sees them. The kernel caps the request at ``net.core.rmem_max``/``wmem_max``.
    """
    for transceiver in pc.getTransceivers()[:1] or []:
        _enlarge(transceiver.receiver.transport, size)
    sctp = pc.sctp
    if sctp is not None:
        _enlarge(sctp.transport, size)


def _enlarge(dtls_transport, size: int) -> None:
    connection = aiortc_internals.ice_connection(dtls_transport)
    for protocol in aioice_internals.protocols(connection) if connection is not None else []:
        transport = getattr(protocol, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, size)
                except OSError:
                    pass
