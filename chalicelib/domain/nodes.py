"""Media nodes as a room sees them: a node's last report, its health, which node a room gets.

A node's health and load are operational state (the registry keeps the last heartbeat);
a room's choice of node is history (``MediaNodeAssigned``). No I/O here.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class NodeRecord:
    """A node's last heartbeat; ``seen`` is the control plane's clock (epoch seconds)."""

    node_id: str
    url: str
    rooms: int
    participants: int
    streams: int
    cpu: float
    capacity: int
    seen: float
    registered: float
    #: stopping (SIGTERM): no room is placed on it, and its rooms move on their next join
    draining: bool = False

    def healthy(self, now: float, dead_after: float) -> bool:
        return now - self.seen <= dead_after

    def load(self) -> tuple:
        """Sort key of least-loaded: participants per seat, then CPU, then the id."""
        return (self.participants / max(self.capacity, 1), self.cpu, self.streams, self.node_id)

    def as_view(self, now: float, dead_after: float) -> dict:
        return {"nodeId": self.node_id, "url": self.url, "rooms": self.rooms,
                "participants": self.participants, "streams": self.streams, "cpu": self.cpu,
                "capacity": self.capacity, "healthy": self.healthy(now, dead_after),
                "draining": self.draining,
                "secondsSinceHeartbeat": round(max(now - self.seen, 0.0), 3)}


def least_loaded(records: Iterable[NodeRecord], now: float, dead_after: float) -> NodeRecord | None:
    """The healthy node with a free seat and the least load; ``None`` if there is none."""
    return node_for(None, [r for r in records if r.healthy(now, dead_after)])


def node_for(assigned: str | None, healthy: Sequence[NodeRecord]) -> NodeRecord | None:
    """Of ``healthy`` nodes: the room's ``assigned`` node while it is among them, else the
    least-loaded one with a free seat; ``None`` if there is none."""
    current = next((r for r in healthy if r.node_id == assigned), None)
    if current is not None:
        return current
    free = [r for r in healthy if r.participants < r.capacity]
    return min(free, key=NodeRecord.load, default=None)
