"""What the node takes from aioice 0.13 beyond its public API.

aioice's ``Connection`` keeps its sockets (``_protocols``), the nominated pair, its
receive queue and its consent task private; the node needs them to send below aiortc,
to read at the socket, to watch a peer's liveness and to restart consent checks.
Host-address discovery and the consent limit are module globals it replaces.
"""
from __future__ import annotations

import asyncio

import aioice.ice

# (where, attribute): checked by tests/unit/test_media_node_internals.py
RELIED_ON = (
    ("aioice.ice", "get_host_addresses"),
    ("aioice.ice", "CONSENT_FAILURES"),
    ("aioice.Connection", "_protocols"),
    ("aioice.Connection", "_nominated"),
    ("aioice.Connection", "_queue"),
    ("aioice.Connection", "_query_consent_task"),
    ("aioice.Connection", "check_incoming"),
    ("aioice.Connection", "query_consent"),
    ("aioice.Connection", "get_component_candidates"),
    ("aioice.Connection", "close"),
)

RTP_COMPONENT = 1
_original_get_host_addresses = aioice.ice.get_host_addresses


def set_host_addresses(gather=None) -> None:
    """Make every connection gather its host candidates on ``gather(use_ipv4, use_ipv6)``;
    ``None`` restores aioice's own address discovery."""
    aioice.ice.get_host_addresses = gather or _original_get_host_addresses


def set_consent_failures(failures: int) -> None:
    """Unanswered consent checks in a row after which aioice closes a connection."""
    aioice.ice.CONSENT_FAILURES = failures


def protocols(connection) -> list:
    """The connection's bound sockets (``StunProtocol`` s); appending adds one it closes."""
    return connection._protocols


def nominated_pair(connection):
    """The RTP component's nominated candidate pair, or ``None`` before nomination."""
    return connection._nominated.get(RTP_COMPONENT)


def receive_queue_empty(connection) -> bool:
    """Whether aioice has no received datagram waiting for aiortc."""
    return connection._queue.empty()


def consent_task(connection):
    """The task checking consent to send, once connected."""
    return connection._query_consent_task


def restart_consent(connection):
    """Start consent checks afresh; returns the new task."""
    task = connection._query_consent_task = asyncio.ensure_future(connection.query_consent())
    return task
