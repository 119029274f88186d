"""A room's real-time socket as the control plane keeps it: who reads, and how far.

Operational state, like a media node's heartbeat: it lives in a table of its own, never
in the room's history. No I/O here.
"""
from __future__ import annotations

from dataclasses import dataclass

from .actor import Actor


@dataclass(frozen=True)
class ConnectionRecord:
    """One socket on one room.

    ``kind`` and ``actor_id`` are the reader as its token proved it (an ``Actor``);
    ``role`` and ``replace`` are the token's claims a socket ``join`` needs; ``sent`` is
    the last ``seq`` the socket was brought up to (shown or hidden); ``expires`` is the
    token's expiry (epoch seconds), after which the table may drop the item.
    """

    connection_id: str
    room_id: str
    kind: str
    actor_id: str
    role: str | None
    replace: bool
    sent: int
    expires: int

    @property
    def actor(self) -> Actor:
        return Actor(self.kind, self.actor_id)
