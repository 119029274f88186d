"""Use cases of the rooms' real-time sockets: connect, find the reader, deliver, forget.

Each socket keeps a cursor, ``sent``: the last ``seq`` it was brought up to. Delivering
reads the room's events after the lowest cursor from the event store (as the long poll
reads), scopes them per socket (``realtime.ReaderFeed``), sends what each socket has not
had, and moves its cursor. So a catch-up and the live stream are one path: whatever
triggers a delivery (a stream record, a ``resume``), a socket gets every event after its
cursor once, in order. Deliveries of one room are serialized in this process.

A delivery to the whole room writes its sockets' cursors as one ``RoomCursor`` item (the
sockets it brought up to the last event), not one write per socket: a socket's cursor is
then the higher of its own and the room's, if it is a member. A ``resume`` moves only its
own socket's cursor. A room of more sockets than one item can name writes each cursor.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import replace
from typing import Callable, Protocol

from ..domain.actor import Actor
from ..domain.connections import ConnectionRecord, RoomCursor
from ..domain.errors import IdentityBanned
from .realtime import ReaderFeed
from .rooms import RoomsApplication

PAGE = 1000
# the connection ids one RoomCursor item names (API Gateway's are 16 characters, the
# local gateway's 32; an item holds 400 KB)
ROOM_CURSOR_MAX = 8000
# post(connection_id, text) -> False when the socket is gone
Post = Callable[[str, str], bool]
Encode = Callable[[dict], str]


class ConnectionStore(Protocol):
    """Where sockets are kept (``chalicelib.persistence.connections``)."""

    def save(self, record: ConnectionRecord) -> None: ...
    def get(self, connection_id: str) -> ConnectionRecord | None: ...
    def in_room(self, room_id: str) -> list[ConnectionRecord]: ...
    def advance_all(self, cursors: list[tuple[ConnectionRecord, int]]) -> None: ...
    def remove(self, connection_id: str) -> None: ...
    def room_cursor(self, room_id: str) -> RoomCursor | None: ...
    def save_room_cursor(self, cursor: RoomCursor) -> None: ...


class SocketService:
    """The sockets of every room, on ``rooms`` and a ``ConnectionStore``."""

    def __init__(self, rooms: RoomsApplication, connections: ConnectionStore):
        self.rooms, self.connections = rooms, connections
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def connect(self, actor: Actor, room_id: str, connection_id: str, *, after: int | None,
                role: str | None, replace: bool, expires: int) -> ConnectionRecord:
        """Record a socket of ``actor`` on the room (``RoomNotFound``, ``IdentityBanned``);
        its cursor is ``after``, else the room's version now (live events only)."""
        view = self.rooms.get_room(room_id)
        if actor.kind == "participant" and any(b["identity"] == actor.id for b in view["bans"]):
            raise IdentityBanned("this identity is banned from the room", room_id=view["id"],
                                 identity=actor.id)
        sent = view["version"] if after is None else min(after, view["version"])
        record = ConnectionRecord(connection_id, view["id"], actor.kind, actor.id, role,
                                  replace, sent, expires)
        self.connections.save(record)
        return record

    def reader(self, connection_id: str) -> ConnectionRecord | None:
        return self.connections.get(connection_id)

    def disconnect(self, connection_id: str) -> None:
        self.connections.remove(connection_id)

    def deliver(self, room_id: str, post: Post, encode: Encode,
                only: str | None = None) -> int:
        """Bring the room's sockets (or socket ``only``) up to the room's last event;
        returns the number of messages sent."""
        with self._lock(room_id):
            if only is None:
                sockets = self.connections.in_room(room_id)
            else:  # read whole, not from the room's index, which may lag behind a connect
                sockets = [s for s in [self.connections.get(only)] if s is not None]
            shared = self.connections.room_cursor(room_id)
            if shared is not None:
                sockets = [replace(s, sent=shared.cursor(s)) for s in sockets]
            now = time.time()
            for gone in [s for s in sockets if s.expires < now]:
                self.connections.remove(gone.connection_id)  # its token expired: no more
            sockets = [s for s in sockets if s.expires >= now]
            if not sockets:
                return 0
            events = self._events_after(room_id, min(s.sent for s in sockets))
            if not events:
                return 0
            view = self.rooms.get_room(room_id)
            sent, cursors = 0, []
            for socket in sockets:
                count, cursor = self._send(socket, view, events, post, encode)
                sent += count
                if cursor is not None:
                    cursors.append((socket, cursor))
            # every socket has its messages before any cursor is written: the writes do
            # not hold up the next socket (a crash in between repeats, never loses)
            self._advance(room_id, events[-1]["seq"], cursors, whole_room=only is None)
            return sent

    def _advance(self, room_id: str, last: int, cursors: list[tuple[ConnectionRecord, int]],
                 whole_room: bool) -> None:
        """Write the cursors of a delivery: the room's item when it reached the whole room
        (a socket left out of it, gone or not listed yet, keeps its own cursor), else
        each socket's own."""
        if whole_room and 0 < len(cursors) <= ROOM_CURSOR_MAX:
            self.connections.save_room_cursor(RoomCursor(
                room_id, last, frozenset(s.connection_id for s, _ in cursors),
                max(s.expires for s, _ in cursors)))
            return
        moved = [(s, cursor) for s, cursor in cursors if cursor > s.sent]
        if moved:
            self.connections.advance_all(moved)

    def _send(self, socket: ConnectionRecord, view: dict, events: list[dict], post: Post,
              encode: Encode) -> tuple[int, int | None]:
        """Post what ``socket`` has not had; the count and its cursor now (``None``: the
        socket is gone)."""
        new = [e for e in events if e["seq"] > socket.sent]
        if not new:
            return 0, socket.sent
        count = 0
        for message in ReaderFeed(socket.actor, view).messages(new):
            if not post(socket.connection_id, encode(message)):
                self.connections.remove(socket.connection_id)
                return count, None
            count += 1
        return count, new[-1]["seq"]

    def _events_after(self, room_id: str, after: int) -> list[dict]:
        events: list[dict] = []
        while True:
            page = self.rooms.room_events(room_id, after=after, limit=PAGE)
            events += page
            if len(page) < PAGE:
                return events
            after = page[-1]["seq"]

    def _lock(self, room_id: str) -> threading.Lock:
        with self._guard:
            return self._locks[room_id]
