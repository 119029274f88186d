"""Where the control plane keeps its rooms' real-time sockets.

``DynamoDBConnectionStore`` (pynamodb, ``<DYNAMODB_TABLE_PREFIX>-connections``, an index
on the room and a TTL on the token's expiry) serves API Gateway's handlers and the
stream handler; ``InMemoryConnectionStore`` is its twin in one process's memory.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, replace
from datetime import datetime, timezone

from pynamodb.attributes import (BooleanAttribute, NumberAttribute, TTLAttribute,
                                 UnicodeAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.domain.connections import ConnectionRecord

from .own_table import OwnTable
from .settings import DynamoDBSettings


class InMemoryConnectionStore:
    """Connections in a dict, for unit tests and the in-memory event store."""

    def __init__(self) -> None:
        self._items: dict[str, ConnectionRecord] = {}
        self._lock = threading.Lock()

    def save(self, record: ConnectionRecord) -> None:
        with self._lock:
            self._items[record.connection_id] = record

    def get(self, connection_id: str) -> ConnectionRecord | None:
        return self._items.get(connection_id)

    def in_room(self, room_id: str) -> list[ConnectionRecord]:
        with self._lock:
            return [r for r in self._items.values() if r.room_id == room_id]

    def advance_all(self, cursors: list[tuple[ConnectionRecord, int]]) -> None:
        with self._lock:
            for record, sent in cursors:
                self._items[record.connection_id] = replace(record, sent=sent)

    def remove(self, connection_id: str) -> None:
        with self._lock:
            self._items.pop(connection_id, None)


class RoomIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "room"
        projection = AllProjection()

    room_id = UnicodeAttribute(hash_key=True)


class ConnectionItem(Model):
    connection_id = UnicodeAttribute(hash_key=True)
    room_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    actor_id = UnicodeAttribute()
    role = UnicodeAttribute(null=True)
    replace = BooleanAttribute()
    sent = NumberAttribute()
    expires = TTLAttribute()
    by_room = RoomIndex()


class DynamoDBConnectionStore(OwnTable):
    """Connections in a DynamoDB table of their own (``<prefix>-connections``), one item
    per socket."""

    item = ConnectionItem

    @staticmethod
    def table_name(settings: DynamoDBSettings) -> str:
        return settings.connections_table_name()

    def save(self, record: ConnectionRecord) -> None:
        self._item(record).save()

    def _item(self, record: ConnectionRecord) -> ConnectionItem:
        expires = datetime.fromtimestamp(record.expires, timezone.utc)
        return self._model(**{**asdict(record), "expires": expires})

    def get(self, connection_id: str) -> ConnectionRecord | None:
        try:
            return _record(self._model.get(connection_id, consistent_read=True))
        except self._model.DoesNotExist:
            return None

    def in_room(self, room_id: str) -> list[ConnectionRecord]:
        # an index reads eventually: a socket missed now is brought up by its cursor later
        return [_record(item) for item in self._model.by_room.query(room_id)]

    def advance_all(self, cursors: list[tuple[ConnectionRecord, int]]) -> None:
        # whole items, 25 a request: one write per socket per event would bound a room's
        # fan-out. A socket removed meanwhile comes back until a post to it fails.
        with self._model.batch_write() as batch:
            for record, sent in cursors:
                batch.save(self._item(replace(record, sent=sent)))

    def remove(self, connection_id: str) -> None:
        self._model(connection_id).delete()


def _record(item: ConnectionItem) -> ConnectionRecord:
    return ConnectionRecord(connection_id=item.connection_id, room_id=item.room_id,
                            kind=item.kind, actor_id=item.actor_id, role=item.role,
                            replace=bool(item.replace), sent=int(item.sent),
                            expires=int(item.expires.timestamp()))
