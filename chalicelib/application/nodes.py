"""Use cases of the control plane with its media nodes: heartbeat, assignment, leaves.

A room's node is history (``MediaNodeAssigned`` on the room); a node's health and load
are operational state (the registry). Media in an SFU room needs a healthy node: the
room keeps its node while that node is alive, and moves to the least-loaded healthy node
on the next join or media grant when it is not. The registry is read before the room's
command, which then decides from that list without I/O, in the same save as the join.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chalicelib.application.errors import NoMediaNode
from chalicelib.application.rooms import RoomsApplication
from chalicelib.domain.actor import Actor
from chalicelib.domain.errors import InvalidState, NotAllowed
from chalicelib.domain.nodes import NodeRecord
from chalicelib.telemetry import metrics


class NodeRegistry(Protocol):
    """Where the nodes' last heartbeats are kept (``chalicelib.persistence.nodes``)."""

    def save(self, record: NodeRecord) -> NodeRecord:
        """Store a heartbeat (keeps the first ``registered`` time of the node)."""

    def get(self, node_id: str) -> NodeRecord | None:
        """The node's last heartbeat, if it ever sent one."""

    def all(self) -> list[NodeRecord]:
        """Every known node, dead or alive."""

    def remove(self, node_id: str) -> None:
        """Forget a node (decommissioned); its next heartbeat registers it again."""


@dataclass(frozen=True)
class MediaGrant:
    """What a media token will let one session do: connect to ``url`` on one node.

    ``audio_only`` is the room's policy as of room version ``seq``, for the node to enforce
    until a newer ``PolicyChanged`` on the room's feed says otherwise.
    """

    node_id: str
    url: str
    room_id: str
    participant_id: str
    identity: str
    role: str
    call_id: str
    audio_only: bool
    seq: int

    @classmethod
    def from_join_view(cls, view: dict) -> "MediaGrant":
        node = view["mediaNode"]
        return cls(node_id=node["nodeId"], url=f"{node['url']}/rooms/{view['roomId']}/whip",
                   room_id=view["roomId"], participant_id=view["participantId"],
                   identity=view["identity"], role=view["role"], call_id=view["callId"],
                   audio_only=view["audioOnly"], seq=view["version"])


class NodeService:
    """What the node routes and the join route call.

    :param registry: the nodes' last heartbeats.
    :param rooms: the rooms.
    :param node_dead_after: seconds of silence after which a node is dead.
    """

    def __init__(self, registry: NodeRegistry, rooms: RoomsApplication,
                 node_dead_after: float) -> None:
        self.registry, self.rooms, self.dead_after = registry, rooms, node_dead_after

    # --- nodes --------------------------------------------------------------

    def heartbeat(self, node_id: str, report: dict, now: datetime) -> dict:
        """Record a heartbeat; the first one registers the node."""
        t = now.timestamp()
        record = self.registry.save(NodeRecord(node_id=node_id, seen=t, registered=t, **report))
        return {**record.as_view(t, self.dead_after), "deadAfterSeconds": self.dead_after}

    def list_nodes(self, now: datetime) -> list[dict]:
        t = now.timestamp()
        return [r.as_view(t, self.dead_after)
                for r in sorted(self.registry.all(), key=lambda r: r.node_id)]

    def tick(self, now: datetime, recording_node_lost_after: float) -> list[dict]:
        """The rooms' scheduled work (``RoomsApplication.tick``), told which nodes were
        heard from within ``recording_node_lost_after`` s: a room's recordings fail
        (``node_lost``) when its node is not among them."""
        t = now.timestamp()
        records = self.registry.all()
        live = {r.node_id for r in records if t - r.seen <= recording_node_lost_after}
        alive = [r for r in records if r.healthy(t, self.dead_after)]
        metrics.emit(metrics.HEALTHY_NODES, sum(1 for r in alive if not r.draining))
        metrics.emit(metrics.DRAINING_NODES, sum(1 for r in alive if r.draining))
        done = self.rooms.tick(now, live_nodes=live)
        for change in done or []:
            if change.get("type") == "RecordingFailed":
                metrics.emit(metrics.RECORDINGS_FAILED, Reason=change.get("reason") or "failed")
        return done

    def check_room_node(self, node_id: str, room_id: str) -> dict:
        """The room, if ``node_id`` is its assigned node; ``not_room_node`` (403) if not."""
        room = self.rooms.get_room(room_id)
        if (room.get("mediaNode") or {}).get("nodeId") != node_id:
            raise NotAllowed("the room is not assigned to this node", code="not_room_node")
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
        """Join, and for a joined participant of an SFU room, where to send media
        (``media`` is then a :class:`MediaGrant`, for the edge to sign).

        With no healthy node the join still succeeds (the roster, the waiting room and
        host controls do not depend on media) with ``media: null`` and ``mediaError``
        ``no_media_node``; the client asks ``POST /rooms/{roomId}/media`` again later.
        """
        healthy = self._healthy(now)
        view = self.rooms.join(actor, room_id, identity=identity, role=role, replace=replace,
                               now=now, media_nodes=healthy)
        if view["mediaMode"] != "SFU" or view["status"] != "joined":
            return {**view, "media": None, "mediaError": None}
        if (view["mediaNode"] or {}).get("nodeId") not in {n.node_id for n in healthy}:
            metrics.emit(metrics.MEDIA_UNAVAILABLE)
            error = NoMediaNode()
            return {**view, "media": None, "mediaError": {
                "code": error.code, "message": error.message, "retryAfter": error.retry_after}}
        return {**view, "media": MediaGrant.from_join_view(view), "mediaError": None}

    def media(self, room_id: str, identity: str, now: datetime) -> MediaGrant:
        """A fresh media grant for the identity's joined session (after admission, or to
        reconnect after its node died: the room moves to a healthy node first)."""
        try:
            view = self.rooms.place_media(room_id, identity, self._healthy(now), now)
        except NoMediaNode:
            metrics.emit(metrics.MEDIA_UNAVAILABLE)
            raise
        return MediaGrant.from_join_view(view)

    def _healthy(self, now: datetime) -> list[NodeRecord]:
        """The nodes a room may have: alive and not draining (a draining node's rooms
        move on their next join or media grant, since it is about to go)."""
        t = now.timestamp()
        return [r for r in self.registry.all()
                if r.healthy(t, self.dead_after) and not r.draining]
