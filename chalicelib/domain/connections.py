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


@dataclass(frozen=True)
class RoomCursor:
    """The sockets of one room that a delivery brought up to ``seq`` together.

    One item per room instead of one cursor write per socket: a live room's sockets all
    move together, so the delivery of an event to a thousand sockets writes one item,
    not a thousand. A socket's cursor is the highest of its own ``sent`` and, if it is a
    member, ``seq``: both say "it has everything up to here", so either may lag. ``expires``
    (epoch seconds) is the latest expiry of the members' tokens.
    """

    room_id: str
    seq: int
    members: frozenset[str]
    expires: int

    def cursor(self, record: ConnectionRecord) -> int:
        """``record``'s cursor, counting this delivery if it was a member."""
        if record.connection_id in self.members:
            return max(record.sent, self.seq)
        return record.sent
