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
from . import errors
from .fields import Fields, invalid
from .http import ApiRequest, blueprint_route, current_request
from .node_tokens import media_access
from .node_tokens import NODE_ID
from .schemas import REASON_MAX

nodes = Blueprint(__name__)
URL_MAX, COUNT_MAX, CPU_MAX = 2048, 1_000_000, 1024


route = blueprint_route(nodes)


def node_request(node_id: str | None = None) -> tuple[ApiRequest, str]:
    """The request, if a node token made it (and names ``node_id``, when given)."""
    request = current_request()
    if request.principal.kind != "node":
        raise errors.forbidden("forbidden", "this call needs a media node token")
    if node_id is not None and not NODE_ID.match(node_id):
        raise invalid("nodeId", "1 to 64 of letters, digits and . _ -")
    if node_id is not None and request.principal.key_id != node_id:
        raise errors.forbidden("wrong_node", "the token is for another node")
    return request, request.principal.key_id


def events_access(request: ApiRequest, room_id: str) -> Actor:
    """Who reads a room's events: admins and the room's participants (as much as their
    role lets them, ``application.visibility``), or a node, all of its own rooms'."""
    if request.principal.kind == "node":
        bootstrap.nodes().check_room_node(request.principal.key_id, room_id)
        return request.actor
    request.in_room(room_id)
    return request.actor


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
    draining = f.value("draining")
    draining = False if draining is None else draining
    if not isinstance(draining, bool):
        raise invalid("draining", "must be true or false")
    f.done()
    return {**report, "cpu": float(cpu), "draining": draining}


@route("/nodes/{nodeId}/heartbeat", "POST")
def heartbeat(nodeId):
    request, node_id = node_request(nodeId)
    return bootstrap.nodes().heartbeat(node_id, heartbeat_report(request.body()),
                                       bootstrap.now())


@route("/nodes", "GET")
def list_nodes():
    current_request().admin()
    return {"nodes": bootstrap.nodes().list_nodes(bootstrap.now())}


@route("/rooms/{roomId}/participants/{participantId}/disconnected", "POST")
def disconnected(roomId, participantId):
    request, node_id = node_request()
    f = Fields(request.body())
    reason = f.text("reason", max_len=REASON_MAX, default="disconnected")
    f.done()
    return bootstrap.nodes().disconnected(node_id, roomId, participantId, reason,
                                          bootstrap.now())


@route("/rooms/{roomId}/media", "POST")
def media(roomId):
    request = current_request()
    p = request.participant(roomId)
    Fields(request.body()).done()
    grant = bootstrap.nodes().media(roomId, p.identity, bootstrap.now())
    return {"media": media_access(grant, request.settings)}
