"""The use case of peer-to-peer signaling: relay one signal between two sockets.

A signal is checked against the room as it is now (``domain.signaling``), then posted
to every live socket of the target's identity on the room as
``{type: "SIGNAL", roomId, from, data}``. Nothing is stored: a signal is not an event,
and a signal to a peer with no socket is refused (``peer_not_connected``) rather than
kept for later.
"""
from __future__ import annotations

import time

from ..domain.connections import ConnectionRecord
from ..domain.errors import InvalidState
from ..domain.signaling import check_signal
from .rooms import RoomsApplication
from .sockets import ConnectionStore, Encode, Post


class SignalingService:
    """Signals between the joined participants of P2P rooms, on ``rooms`` and the
    sockets' ``ConnectionStore``."""

    def __init__(self, rooms: RoomsApplication, connections: ConnectionStore):
        self.rooms, self.connections = rooms, connections

    def signal(self, reader: ConnectionRecord, to: str, data: dict, post: Post,
               encode: Encode) -> dict:
        """Relay ``data`` from the socket ``reader`` to participant ``to``; returns
        ``{to, delivered}`` (the target's sockets that got it)."""
        view = self.rooms.get_room(reader.room_id)
        route = check_signal(view, reader.actor_id, to, data)
        text = encode({"type": "SIGNAL", "roomId": route.room_id, "from": route.sender,
                       "data": data})
        now, delivered = time.time(), 0
        for socket in self.connections.in_room(route.room_id):
            if socket.kind != "participant" or socket.actor_id != route.target_identity \
                    or socket.expires < now:
                continue
            if post(socket.connection_id, text):
                delivered += 1
            else:
                self.connections.remove(socket.connection_id)
        if not delivered:
            raise InvalidState(f"participant {to} has no open socket on the room",
                               code="peer_not_connected", room_id=route.room_id,
                               participant_id=to)
        return {"to": to, "delivered": delivered}
