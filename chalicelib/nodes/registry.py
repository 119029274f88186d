"""Where the control plane keeps its media nodes' last heartbeats.

``NodeRegistry`` is the port; ``InMemoryNodeRegistry`` serves unit tests and
``DynamoDBNodeRegistry`` (pynamodb, ``<DYNAMODB_TABLE_PREFIX>-nodes``) serves the API.
A heartbeat overwrites the node's item whole: the newest report is the only truth.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Iterable, Protocol

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from ..persistence.items import Endpoint, bind, create_table


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

    def healthy(self, now: float, dead_after: float) -> bool:
        return now - self.seen <= dead_after

    def load(self) -> tuple:
        """Sort key of least-loaded: participants per seat, then CPU, then the id."""
        return (self.participants / max(self.capacity, 1), self.cpu, self.streams, self.node_id)

    def as_view(self, now: float, dead_after: float) -> dict:
        return {"nodeId": self.node_id, "url": self.url, "rooms": self.rooms,
                "participants": self.participants, "streams": self.streams, "cpu": self.cpu,
                "capacity": self.capacity, "healthy": self.healthy(now, dead_after),
                "secondsSinceHeartbeat": round(max(now - self.seen, 0.0), 3)}


def least_loaded(records: Iterable[NodeRecord], now: float, dead_after: float) -> NodeRecord | None:
    """The healthy node with a free seat and the least load; ``None`` if there is none."""
    fit = [r for r in records if r.healthy(now, dead_after) and r.participants < r.capacity]
    return min(fit, key=NodeRecord.load, default=None)


class NodeRegistry(Protocol):
    def save(self, record: NodeRecord) -> NodeRecord:
        """Store a heartbeat (keeps the first ``registered`` time of the node)."""

    def get(self, node_id: str) -> NodeRecord | None:
        """The node's last heartbeat, if it ever sent one."""

    def all(self) -> list[NodeRecord]:
        """Every known node, dead or alive."""

    def remove(self, node_id: str) -> None:
        """Forget a node (decommissioned); its next heartbeat registers it again."""


class InMemoryNodeRegistry:
    """A registry in one process's memory (unit tests)."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeRecord] = {}
        self._lock = threading.Lock()

    def save(self, record: NodeRecord) -> NodeRecord:
        with self._lock:
            old = self._nodes.get(record.node_id)
            if old is not None:
                record = NodeRecord(**{**asdict(record), "registered": old.registered})
            self._nodes[record.node_id] = record
            return record

    def get(self, node_id: str) -> NodeRecord | None:
        return self._nodes.get(node_id)

    def all(self) -> list[NodeRecord]:
        return list(self._nodes.values())

    def remove(self, node_id: str) -> None:
        with self._lock:
            self._nodes.pop(node_id, None)


class NodeItem(Model):
    node_id = UnicodeAttribute(hash_key=True)
    url = UnicodeAttribute()
    rooms = NumberAttribute()
    participants = NumberAttribute()
    streams = NumberAttribute()
    cpu = NumberAttribute()
    capacity = NumberAttribute()
    seen = NumberAttribute()
    registered = NumberAttribute()


class DynamoDBNodeRegistry:
    """Nodes in a DynamoDB table of their own, one item per node.

    :param table_name: e.g. ``dropon-nodes``.
    :param endpoint: region and optional local endpoint (DynamoDB Local, moto).
    :param create: create the table if it does not exist (``CREATE_TABLE``).
    """

    def __init__(self, table_name: str, endpoint: Endpoint, create: bool = False) -> None:
        self._model = bind(NodeItem, table_name, endpoint)
        if create:
            create_table(self._model)

    def save(self, record: NodeRecord) -> NodeRecord:
        fields = asdict(record)
        old = self.get(record.node_id)
        if old is not None:
            fields["registered"] = old.registered
        self._model(**fields).save()
        return NodeRecord(**fields)

    def get(self, node_id: str) -> NodeRecord | None:
        try:
            return _record(self._model.get(node_id, consistent_read=True))
        except self._model.DoesNotExist:
            return None

    def all(self) -> list[NodeRecord]:
        # a fleet is tens of nodes: one consistent scan is cheaper than an index
        return [_record(item) for item in self._model.scan(consistent_read=True)]

    def remove(self, node_id: str) -> None:
        self._model(node_id).delete()


def _record(item: NodeItem) -> NodeRecord:
    return NodeRecord(node_id=item.node_id, url=item.url, rooms=int(item.rooms),
                      participants=int(item.participants), streams=int(item.streams),
                      cpu=float(item.cpu), capacity=int(item.capacity), seen=float(item.seen),
                      registered=float(item.registered))
