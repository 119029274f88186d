"""Where the node's ICE sockets bind, and which address their candidates announce.

aioice 0.13 binds each host candidate on an ephemeral port
(``loop.create_datagram_endpoint(local_addr=(address, 0))`` in
``Connection.get_component_candidates``) and announces the interface address it bound.
A node behind a 1:1 NAT (an EC2 public IPv4) needs both changed: its ports within a
range a security group can open, and its host candidates announced with the public
address (as Janus's ``nat_1_1_mapping`` and LiveKit's node IP do). :class:`IceBinding`
does both for one peer connection, in the one place aioice creates host sockets.

Announcing another address is safe for connectivity checks: aioice keys candidate
pairs by the local *protocol* (the bound socket), sends from that socket, and reads the
local candidate's ``host`` only to pair by IP version, to name foundations and in logs;
it never compares a check's mapped address with it.
"""
from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import logging
import socket

from aioice import Candidate
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.ice import StunProtocol
from aioice.turn import UDP_SOCKET_BUFFER_SIZE

from ..errors import Unavailable
from ..internals import aioice_internals, aiortc_internals

logger = logging.getLogger(__name__)


class NoMediaPorts(Unavailable):
    """Every UDP port of ``DROPON_ICE_PORT_MIN``-``MAX`` is in use."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__("no_media_ports",
                         f"all UDP ports {low}-{high} for media are in use; retry later")


class PortRange:
    """Hands out UDP ports of ``[low, high]``, round-robin, skipping ports in use.

    The kernel is the source of truth: a port is free when ``bind`` succeeds, so ports
    held by other processes or by sessions still closing are skipped, not tracked.
    Round-robin keeps a port just released from going straight to the next session.
    """

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self._next = low

    def __len__(self) -> int:
        return self.high - self.low + 1

    async def bind(self, loop, protocol_factory, address: str):
        """``create_datagram_endpoint`` on ``address`` and the next free port in range.

        :raises NoMediaPorts: when no port of the range can be bound.
        :raises OSError: for other errors (an address not on this host, ...).
        """
        for _ in range(len(self)):
            port = self._next
            self._next = port + 1 if port < self.high else self.low
            try:
                return await loop.create_datagram_endpoint(
                    protocol_factory, local_addr=(address, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        logger.warning("every ICE port of %d-%d is in use: refusing a session",
                       self.low, self.high)
        raise NoMediaPorts(self.low, self.high)


class EphemeralPorts:
    """aioice's own behaviour: the kernel picks the port."""

    async def bind(self, loop, protocol_factory, address: str):
        """``create_datagram_endpoint`` on ``address``, port 0."""
        return await loop.create_datagram_endpoint(protocol_factory, local_addr=(address, 0))


class IceBinding:
    """The node's ICE socket policy, applied to each peer connection it creates.

    :param ports: a shared :class:`PortRange`, or ``None`` for ephemeral ports.
    :param public_ip: IPv4 address announced instead of each IPv4 interface address
        (same port); ``None`` announces the interface addresses themselves.
    """

    def __init__(self, ports: PortRange | None = None, public_ip: str | None = None) -> None:
        self.ports = ports or EphemeralPorts()
        self.public_ip = public_ip

    def announced(self, bound: str) -> str:
        """The address announced for a socket bound on ``bound``."""
        if self.public_ip and ipaddress.ip_address(bound).version == 4:
            return self.public_ip
        return bound

    def attach(self, pc) -> None:
        """Gather ``pc``'s host candidates under this policy.

        aiortc creates its ICE transports lazily and gathers them all in one private
        step of ``setLocalDescription``; wrapping that step reaches every transport,
        including those added by later renegotiations.
        """
        def under_policy(gather):
            async def gather_under_policy() -> None:
                for transport in aiortc_internals.ice_transports(pc):
                    connection = aiortc_internals.gatherer_connection(transport)
                    if not getattr(connection, "_dropon_binding", False):
                        connection._dropon_binding = True
                        connection.get_component_candidates = functools.partial(
                            self._component_candidates, connection,
                            connection.get_component_candidates)
                await gather()
            return gather_under_policy

        aiortc_internals.wrap_gathering(pc, under_policy)

    async def _component_candidates(self, connection, gather_others, component: int,
                                    addresses: list[str], timeout: int = 5) -> list[Candidate]:
        # host candidates here; aioice's own code still does STUN/TURN (none on the node)
        loop = asyncio.get_running_loop()
        candidates = []
        for address in addresses:
            try:
                transport, protocol = await self.ports.bind(
                    loop, lambda: StunProtocol(connection), address)
            except OSError as exc:  # as aioice: an address that cannot be bound is skipped
                logger.info("could not bind ICE socket to %s: %s", address, exc)
                continue
            aioice_internals.protocols(connection).append(protocol)  # closed with it
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_SOCKET_BUFFER_SIZE)
            host, port = transport.get_extra_info("sockname")[:2]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "host"),
                host=self.announced(host),
                port=port,
                type="host",
            )
            candidates.append(protocol.local_candidate)
        return candidates + await gather_others(
            component=component, addresses=[], timeout=timeout)
