"""Where the control plane keeps its media nodes' last heartbeats.

``DynamoDBNodeRegistry`` (pynamodb, ``<DYNAMODB_TABLE_PREFIX>-nodes``) serves the API;
``InMemoryNodeRegistry``, its twin in one process's memory, serves unit tests and the
in-memory store. A heartbeat overwrites the node's item whole: the newest report is the
only truth.
"""
from __future__ import annotations

import threading
from dataclasses import asdict

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.domain.nodes import NodeRecord

from .own_table import OwnTable
from .settings import DynamoDBSettings


class InMemoryNodeRegistry:
    """A registry in one process's memory."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeRecord] = {}
        self._lock = threading.Lock()

    def save(self, record: NodeRecord) -> NodeRecord:
        with self._lock:
            record = _keeping_registered(record, self._nodes.get(record.node_id))
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
    draining = BooleanAttribute(default=False)


class DynamoDBNodeRegistry(OwnTable):
    """Nodes in a DynamoDB table of their own (``<prefix>-nodes``), one item per node."""

    item = NodeItem
    table_name = staticmethod(DynamoDBSettings.nodes_table_name)

    def save(self, record: NodeRecord) -> NodeRecord:
        record = _keeping_registered(record, self.get(record.node_id))
        self._model(**asdict(record)).save()
        return record

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


def _keeping_registered(record: NodeRecord, old: NodeRecord | None) -> NodeRecord:
    """``record`` with the first registration time of the node, if it had one."""
    return record if old is None else NodeRecord(**{**asdict(record), "registered": old.registered})


def _record(item: NodeItem) -> NodeRecord:
    return NodeRecord(node_id=item.node_id, url=item.url, rooms=int(item.rooms),
                      participants=int(item.participants), streams=int(item.streams),
                      cpu=float(item.cpu), capacity=int(item.capacity), seen=float(item.seen),
                      registered=float(item.registered), draining=bool(item.draining))
