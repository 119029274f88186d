"""Routes of the media nodes (node tokens) and the fleet view (admin), as a Blueprint.

- ``POST /nodes/{nodeId}/heartbeat``: the node's load; the first one registers it.
- ``POST /rooms/{roomId}/participants/{participantId}/disconnected``: a leave seen by
  the room's node.
- ``POST /rooms/{roomId}/media``: a fresh media grant for the caller's joined session.
- ``GET /nodes``: every node with its health (admin).
Node tokens on ``GET /rooms/{roomId}/events`` are checked by ``events_access``.
"""
from __future__ import annotations

from chalice import Blueprint

from .. import bootstrap
from ..domain.actor import Actor
from ..nodes import wiring
from ..nodes.tokens import NODE_ID
from . import errors
from .fields import Fields, invalid
from .http import Call, mapped
from .schemas import REASON_MAX

nodes = Blueprint(__name__)
URL_MAX, COUNT_MAX, CPU_MAX = 2048, 1_000_000, 1024


def route(path: str, method: str):
    def register(view):
        return nodes.route(path, methods=[method])(mapped(view))
    return register


def node_call(node_id: str | None = None) -> tuple[Call, str]:
    """The request, if a node token made it (and names ``node_id``, when given)."""
    c = Call(bootstrap.settings())
    if c.principal.kind != "node":
        raise errors.forbidden("forbidden", "this call needs a media node token")
    if node_id is not None and not NODE_ID.match(node_id):
        raise invalid("nodeId", "1 to 64 of letters, digits and . _ -")
    if node_id is not None and c.principal.key_id != node_id:
        raise errors.forbidden("wrong_node", "the token is for another node")
    return c, c.principal.key_id


def events_access(c: Call, room_id: str) -> Actor:
    """Who reads a room's events: admins and the room's participants (as much as their
    role lets them, ``application.visibility``), or a node, all of its own rooms'."""
    if c.principal.kind == "node":
        wiring.service().check_room_node(c.principal.key_id, room_id)
        return Actor(kind="node", id=c.principal.key_id)
    c.in_room(room_id)
    return c.actor


def heartbeat_report(body: dict) -> dict:
    f = Fields(body)
    url = f.text("url", required=True, max_len=URL_MAX).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise invalid("url", "must be an http(s) URL")
    report = {"url": url, **{name: f.integer(name, lo=0, hi=COUNT_MAX, required=True)
                            for name in ("rooms", "participants", "streams")},
              "capacity": f.integer("capacity", lo=1, hi=COUNT_MAX, required=True)}
    cpu = f.value("cpu", required=True)
    if isinstance(cpu, bool) or not isinstance(cpu, (int, float)) or not 0 <= cpu <= CPU_MAX:
        raise invalid("cpu", f"must be a number from 0 to {CPU_MAX}")
    f.done()
    return {**report, "cpu": float(cpu)}


@route("/nodes/{nodeId}/heartbeat", "POST")
def heartbeat(nodeId):
    c, node_id = node_call(nodeId)
    return wiring.service().heartbeat(node_id, heartbeat_report(c.body()), bootstrap.now())


@route("/nodes", "GET")
def list_nodes():
    Call(bootstrap.settings()).admin()
    return {"nodes": wiring.service().list_nodes(bootstrap.now())}


@route("/rooms/{roomId}/participants/{participantId}/disconnected", "POST")
def disconnected(roomId, participantId):
    c, node_id = node_call()
    f = Fields(c.body())
    reason = f.text("reason", max_len=REASON_MAX, default="disconnected")
    f.done()
    return wiring.service().disconnected(node_id, roomId, participantId, reason, bootstrap.now())


@route("/rooms/{roomId}/media", "POST")
def media(roomId):
    c = Call(bootstrap.settings())
    p = c.participant(roomId)
    Fields(c.body()).done()
    return {"media": wiring.service().media(roomId, p.identity, bootstrap.now())["media"]}

