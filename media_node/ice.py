"""Keep WebRTC media on loopback in local mode.

aioice skips 127.0.0.1 when it gathers host candidates and, left alone, offers the
machine's interface addresses; aiortc also adds a public STUN server by default.
Both would send traffic off the machine, so local mode gathers 127.0.0.1 only, uses
no ICE servers, and drops remote candidates outside 127.0.0.0/8 (``.local`` mDNS
names included, which would otherwise trigger multicast lookups).
"""
from __future__ import annotations

import ipaddress

import aioice.ice
from aiortc import RTCConfiguration

_original_get_host_addresses = aioice.ice.get_host_addresses


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


def restrict_to_loopback(enabled: bool = True) -> None:
    """Make every aiortc peer in this process gather only 127.0.0.1.

    :param enabled: ``False`` restores aioice's own address discovery.
    """
    aioice.ice.get_host_addresses = (
        _loopback_addresses if enabled else _original_get_host_addresses
    )


def rtc_configuration() -> RTCConfiguration:
    """A peer configuration with no STUN/TURN servers (aiortc defaults to Google's)."""
    return RTCConfiguration(iceServers=[])


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
