"""Use cases of the control plane with its media nodes: heartbeat, assignment, leaves.

A room's node is history (``MediaNodeAssigned`` on the room); a node's health and load
are operational state (the registry). Media in an SFU room needs a healthy node: the
room keeps its node while that node is alive, and moves to the least-loaded healthy node
(a new ``MediaNodeAssigned``) on the next join or media grant when it is not.
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..api.errors import ApiError, forbidden
from ..domain.actor import Actor
from ..domain.errors import InvalidState
from .registry import NodeRecord, NodeRegistry, least_loaded
from .tokens import mint_media_token

ASSIGNER = Actor("system", "media-assigner")
RETRY_AFTER_SECONDS = 5


class NoMediaNode(ApiError):
    """No healthy media node can take the room; the client retries later."""

    def __init__(self) -> None:
        super().__init__("no_media_node", "no healthy media node is available; retry shortly", 503)
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class NodeService:
    """What the node routes and the join route call.

    :param registry: the nodes' last heartbeats.
    :param rooms: the ``RoomsApplication``.
    :param settings: ``node_secret``, ``node_dead_after``, ``media_token_ttl``.
    """

    def __init__(self, registry: NodeRegistry, rooms, settings) -> None:
        self.registry, self.rooms, self.settings = registry, rooms, settings

    # --- nodes --------------------------------------------------------------

    def heartbeat(self, node_id: str, report: dict, now: datetime) -> dict:
        """Record a heartbeat; the first one registers the node."""
        t = now.timestamp()
        record = self.registry.save(NodeRecord(node_id=node_id, seen=t, registered=t, **report))
        return {**record.as_view(t, self.settings.node_dead_after),
                "deadAfterSeconds": self.settings.node_dead_after}

    def list_nodes(self, now: datetime) -> list[dict]:
        t = now.timestamp()
        return [r.as_view(t, self.settings.node_dead_after)
                for r in sorted(self.registry.all(), key=lambda r: r.node_id)]

    def check_room_node(self, node_id: str, room_id: str) -> dict:
        """The room, if ``node_id`` is its assigned node; ``not_room_node`` (403) if not."""
        room = self.rooms.get_room(room_id)
        if (room.get("mediaNode") or {}).get("nodeId") != node_id:
            raise forbidden("not_room_node", "the room is not assigned to this node")
        return room

    def disconnected(self, node_id: str, room_id: str, participant_id: str, reason: str,
                     now: datetime) -> dict:
        """Record the node's report as a leave; a participant already gone is no error."""
        self.check_room_node(node_id, room_id)
        try:
            room = self.rooms.leave(Actor("node", node_id), room_id, participant_id, reason, now)
        except InvalidState as exc:
            if not exc.code.startswith("participant_"):
                raise
            return {"participantId": participant_id, "recorded": False}
        return {"participantId": participant_id, "recorded": True, "version": room["version"]}

    # --- participants -------------------------------------------------------

    def join(self, actor: Actor, room_id: str, *, identity: str, role: str, replace: bool,
             now: datetime) -> dict:
        """Join, and for a joined participant of an SFU room, where to send media.

        With no healthy node the join still succeeds (the roster, the waiting room and
        host controls do not depend on media) with ``media: null`` and ``mediaError``
        ``no_media_node``; the client asks ``POST /rooms/{roomId}/media`` again later.
        """
        view = self.rooms.join(actor, room_id, identity=identity, role=role, replace=replace,
                               now=now)
        if view["mediaMode"] != "SFU" or view["status"] != "joined":
            return {**view, "media": None, "mediaError": None}
        try:
            media = self._media(view, self._node_for(view, now), now)
        except NoMediaNode as exc:
            return {**view, "media": None, "mediaError": {
                "code": exc.code, "message": exc.message, "retryAfter": RETRY_AFTER_SECONDS}}
        return {**view, **media, "mediaError": None}

    def media(self, room_id: str, identity: str, now: datetime) -> dict:
        """A fresh media grant for the identity's joined session (after admission, or to
        reconnect after its node died: the room moves to a healthy node first)."""
        room = self.rooms.get_room(room_id)
        p = next((p for p in room["participants"]
                  if p["identity"] == identity and p["state"] == "joined"), None)
        if p is None:
            raise ApiError("not_joined", "no joined session for this token", 409)
        if not _is_sfu(room):
            raise ApiError("not_sfu", "the room's media mode is not SFU", 409)
        view = {"roomId": room_id, "participantId": p["id"], "identity": identity,
                "role": p["role"], "callId": p["callId"], "mediaNode": room["mediaNode"]}
        return self._media(view, self._node_for(room, now), now)

    def _node_for(self, room: dict, now: datetime) -> NodeRecord:
        t, dead_after = now.timestamp(), self.settings.node_dead_after
        assigned = room.get("mediaNode")
        if assigned:
            current = self.registry.get(assigned["nodeId"])
            if current is not None and current.healthy(t, dead_after):
                return current
        node = least_loaded(self.registry.all(), t, dead_after)
        if node is None:
            raise NoMediaNode()
        return node

    def _media(self, view: dict, node: NodeRecord, now: datetime) -> dict:
        room_id, assigned = view["roomId"], view.get("mediaNode") or {}
        result = {}
        if (assigned.get("nodeId"), assigned.get("url")) != (node.node_id, node.url):
            room = self.rooms.assign_media_node(ASSIGNER, room_id, node.node_id, node.url, now)
            result = {"mediaNode": room["mediaNode"], "version": room["version"]}
        token, exp = mint_media_token(
            self.settings.node_secret, node_id=node.node_id, room_id=room_id,
            participant_id=view["participantId"], identity=view["identity"],
            role=view["role"], call_id=view["callId"], ttl=self.settings.media_token_ttl)
        # the node checks exp against its own wall clock, so the token uses the wall clock
        return {**result, "media": {"nodeId": node.node_id,
                                    "url": f"{node.url}/rooms/{room_id}/whip", "token": token,
                                    "expiresAt": datetime.fromtimestamp(exp, timezone.utc)}}


def _is_sfu(room: dict) -> bool:
    return room["policy"].get("mediaMode") == "SFU"
