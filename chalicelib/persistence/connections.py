"""Where the control plane keeps its rooms' real-time sockets.

``DynamoDBConnectionStore`` (pynamodb, ``<DYNAMODB_TABLE_PREFIX>-connections``, an index
on the room and a TTL on the token's expiry) serves API Gateway's handlers and the
stream handler; ``InMemoryConnectionStore`` is its twin in one process's memory. Beside
the sockets, each room's ``RoomCursor`` (the sockets a delivery brought up together).
"""
from __future__ import annotations

import threading
from dataclasses import asdict, replace
from datetime import datetime, timezone

from pynamodb.attributes import (BooleanAttribute, NumberAttribute, TTLAttribute,
                                 UnicodeAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.domain.connections import ConnectionRecord, RoomCursor

from .items import Endpoint, bind
from .own_table import OwnTable
from .settings import DynamoDBSettings

ROOM_CURSOR_PREFIX = "room:"  # never an API Gateway connection id, nor a gateway's uuid


class InMemoryConnectionStore:
    """Connections in a dict, for unit tests and the in-memory event store."""

    def __init__(self) -> None:
        self._items: dict[str, ConnectionRecord] = {}
        self._rooms: dict[str, RoomCursor] = {}
        self._lock = threading.Lock()

    def room_cursor(self, room_id: str) -> RoomCursor | None:
        return self._rooms.get(room_id)

    def save_room_cursor(self, cursor: RoomCursor) -> None:
        self._rooms[cursor.room_id] = cursor

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


class RoomCursorItem(Model):
    """A room's ``RoomCursor`` in the same table, under ``room:<roomId>``; it has no
    ``room_id``, so the room index never lists it."""

    connection_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute()
    members = UnicodeAttribute()  # connection ids, space-separated: one small string
    expires = TTLAttribute()


class DynamoDBConnectionStore(OwnTable):
    """Connections in a DynamoDB table of their own (``<prefix>-connections``), one item
    per socket, and one ``RoomCursor`` item per room."""

    item = ConnectionItem

    def __init__(self, table_name: str, endpoint: Endpoint, create: bool = False) -> None:
        super().__init__(table_name, endpoint, create)
        self._cursors = bind(RoomCursorItem, table_name, endpoint)

    def room_cursor(self, room_id: str) -> RoomCursor | None:
        try:
            item = self._cursors.get(ROOM_CURSOR_PREFIX + room_id, consistent_read=True)
        except self._cursors.DoesNotExist:
            return None
        return RoomCursor(room_id, int(item.seq), frozenset(item.members.split()),
                          int(item.expires.timestamp()))

    def save_room_cursor(self, cursor: RoomCursor) -> None:
        self._cursors(ROOM_CURSOR_PREFIX + cursor.room_id, seq=cursor.seq,
                      members=" ".join(sorted(cursor.members)),
                      expires=datetime.fromtimestamp(cursor.expires, timezone.utc)).save()

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
