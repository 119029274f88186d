"""Keep benchmark media on addresses we own: loopback or our own network namespace."""
from __future__ import annotations

import aioice.ice
from aiortc import RTCBundlePolicy, RTCConfiguration


def restrict_host_addresses(addresses: list[str]) -> None:
    """Gather ICE host candidates only on these addresses.

    aioice skips 127.0.0.1 and would otherwise offer the machine's interface address.
    """
    wanted = list(addresses)
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(wanted)


def rtc_configuration() -> RTCConfiguration:
    """No ICE servers: aiortc's default STUN server is on the internet.

    max-bundle: with aiortc's default (balanced), a second transceiver of a kind keeps
    the first one's pre-bundle transport when the answer bundles onto another kind's
    transport, and never receives.
    """
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
