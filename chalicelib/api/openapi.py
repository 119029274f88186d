"""The OpenAPI 3 document of the HTTP API, served at ``GET /openapi.json``.

Written by hand next to the routes; ``tests/unit/test_openapi.py`` checks that every
Chalice route appears here with its methods, and nothing else does.
"""
from __future__ import annotations

import copy
from functools import lru_cache

ROOM = {"name": "roomId", "in": "path", "required": True, "schema": {"type": "string"}}
PARTICIPANT = {"name": "participantId", "in": "path", "required": True,
               "schema": {"type": "string"}}
IDENTITY = {"name": "identity", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._@+:\\-]{1,128}$"}}
OBJ = {"type": "object"}
TIME = {"type": "string", "format": "date-time"}
ERRORS = {"400": "malformed JSON or parameter", "401": "missing, forged or expired token",
          "403": "not allowed for this token (forbidden, wrong_room, banned, not_a_host)",
          "404": "no such room or participant", "409": "conflicts with the room's state",
          "413": "body_too_large", "422": "a field is missing, unknown or invalid"}


def query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def body(properties: dict, required: tuple = ()) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return {"required": bool(required),
            "content": {"application/json": {"schema": schema}}}


def op(summary: str, *, params=(), request=None, status="200", result=OBJ, auth="admin") -> dict:
    responses = {status: {"description": "success", "content": {
        "application/json": {"schema": result}}}}
    for code, why in ERRORS.items():
        responses[code] = {"description": why, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}
    operation = {"summary": summary, "description": f"Token: {auth}.",
                 "parameters": list(params), "responses": responses}
    if request is not None:
        operation["requestBody"] = request
    return operation


HOST_CONTROLS = {"admit": "Admit a waiting participant", "deny": "Deny a waiting participant",
                 "promote": "Promote an audience member to speaker",
                 "demote": "Demote a speaker to the audience",
                 "kick": "Remove a participant and ban the identity",
                 "lower-hand": "Lower a participant's raised hand"}
HOST = "admin, or a participant token of the room whose participant is a host"
MEMBER = "admin, or a participant token of this room"

# what a reader sees depends on what it is in the room now (docs/api.md, "What a token reads")
READ_SCOPES = (
    "Admin tokens and the room's joined hosts get the full room. A joined speaker or "
    "audience member gets the member view: no bans, only joined participants with "
    "id, identity, role, handRaised, muted. Anyone else with a token of the room (waiting, "
    "departed, not joined) gets {id, name, status, participant} with its own record only. "
    "Past versions (version, at) are for admins and hosts.")
FEED_SCOPES = (
    "Admins, hosts and the room's media node get every event. A joined speaker or "
    "audience member gets the live call's events (joins and admissions, leaves without "
    "reason, hands, roles, mutes, policy, node, lifecycle) and its own; no knocks, "
    "denials, kicks or bans of others (another's kick reads as ParticipantLeft). Anyone "
    "else gets its own events and RoomOpened/RoomClosed, with other participants unnamed. "
    "Hidden events still advance nextAfter.")
ROOM_VIEWS = {"type": "object", "required": ["id", "name", "status"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "status": {"type": "string"},
    "participants": {"type": "array", "items": OBJ}, "bans": {"type": "array", "items": OBJ},
    "participant": {"type": "object", "nullable": True}}}
EVENTS = {"type": "object", "required": ["events", "nextAfter"], "properties": {
    "events": {"type": "array", "items": {"type": "object", "properties": {
        "seq": {"type": "integer"}, "type": {"type": "string"}, "time": TIME,
        "actor": OBJ, "data": OBJ}}},
    "nextAfter": {"type": "integer", "description": "the last seq this read covered, "
                  "shown or hidden: the next after"}}}


def _scoped(operation: dict, scopes: str) -> dict:
    operation["description"] += " " + scopes
    return operation


def _paths() -> dict:
    reason = body({"reason": {"type": "string", "maxLength": 200}})
    paths = {
        "/openapi.json": {"get": op("This document", auth="any valid token")},
        "/rooms": {
            "post": op("Create a room", status="201", request=body({
                "name": {"type": "string", "maxLength": 200}, "policy": OBJ, "metadata": OBJ,
                "startsAt": TIME, "endsAt": TIME, "persistent": {"type": "boolean"}},
                ("name",))),
            "get": op("List rooms", params=[
                query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "page size"),
                query("cursor", {"type": "string"}, "nextCursor of the previous page")])},
        "/rooms/{roomId}": {"get": _scoped(op(
            "A room's state, now or as it was", auth=MEMBER, result=ROOM_VIEWS, params=[
                ROOM, query("version", {"type": "integer", "minimum": 1},
                            "state at this version (admin or host; else 403 not_a_host)"),
                query("at", TIME, "state at this time (admin or host; else 403 not_a_host)")]),
            READ_SCOPES)},
        "/rooms/{roomId}/policy": {"patch": op(
            "Change the room's policy", auth=HOST, params=[ROOM],
            request={"required": True, "content": {"application/json": {"schema": OBJ}}})},
        "/rooms/{roomId}/close": {"post": op("Close the room", auth=HOST, params=[ROOM],
                                             request=reason)},
        "/rooms/{roomId}/tokens": {"post": op(
            "Mint a participant token", status="201", params=[ROOM], request=body({
                "identity": IDENTITY["schema"], "role": {"type": "string"},
                "ttlSeconds": {"type": "integer", "minimum": 1}, "replace": {"type": "boolean"}},
                ("identity", "role")))},
        "/rooms/{roomId}/join": {"post": op(
            "Join (joined, or waiting for admission); in an SFU room a joined participant "
            "gets media {nodeId, url, token, expiresAt}, or media null and mediaError "
            "no_media_node when no node is healthy", params=[ROOM],
            auth="a participant token of this room")},
        "/rooms/{roomId}/leave": {"post": op("Leave the room", params=[ROOM], request=reason,
                                             auth="a participant token of this room")},
        "/rooms/{roomId}/participants/{participantId}/mute": {"post": op(
            "Mute or unmute a participant (enforced by the media node)", auth=HOST,
            params=[ROOM, PARTICIPANT], request=body({
                "audio": {"type": "boolean"}, "video": {"type": "boolean"},
                "muted": {"type": "boolean"}}))},
        "/rooms/{roomId}/hand": {
            "post": op("Raise your hand", params=[ROOM], auth="a participant token"),
            "delete": op("Lower your hand", params=[ROOM], auth="a participant token")},
        "/rooms/{roomId}/bans/{identity}": {"delete": op("Lift a ban", auth=HOST,
                                                         params=[ROOM, IDENTITY])},
        "/rooms/{roomId}/events": {"get": _scoped(op(
            "The room's history, in order", auth=MEMBER + ", or the room's media node",
            result=EVENTS, params=[
                ROOM, query("after", {"type": "integer", "minimum": 0},
                            "events after this seq (pass the last nextAfter)"),
                query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                      "at most this many stored events are read"),
                query("wait", {"type": "integer", "minimum": 0, "maximum": 20},
                      "seconds to wait for a first event the caller may see (long poll)")]),
            FEED_SCOPES)},
    }
    paths.update(_node_paths())
    paths.update(_webhook_paths())
    for path, summary in HOST_CONTROLS.items():
        paths[f"/rooms/{{roomId}}/participants/{{participantId}}/{path}"] = {
            "post": op(summary, auth=HOST, params=[ROOM, PARTICIPANT])}
    return paths


NODE_ID = {"name": "nodeId", "in": "path", "required": True,
           "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}
COUNT = {"type": "integer", "minimum": 0}


def _no_node(operation: dict) -> dict:
    operation["responses"]["503"] = {
        "description": "no_media_node: no healthy media node; retry after Retry-After seconds",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return operation


def _node_paths() -> dict:
    """Media nodes' routes (docs/api.md, "Media nodes")."""
    node = "a node token (iss node:<nodeId>, signed with DROPON_NODE_SECRET)"
    return {
        "/nodes": {"get": op("Media nodes with their last load and health")},
        "/nodes/{nodeId}/heartbeat": {"post": op(
            "A node's heartbeat; the first one registers it", auth=node + " naming nodeId",
            params=[NODE_ID], request=body({
                "url": {"type": "string", "maxLength": 2048}, "rooms": COUNT,
                "participants": COUNT, "streams": COUNT, "cpu": {"type": "number", "minimum": 0},
                "capacity": {"type": "integer", "minimum": 1}},
                ("url", "rooms", "participants", "streams", "cpu", "capacity")))},
        "/rooms/{roomId}/participants/{participantId}/disconnected": {"post": op(
            "The room's node reports a failed or silent connection; recorded as a leave",
            auth=node + " assigned to the room", params=[ROOM, PARTICIPANT],
            request=body({"reason": {"type": "string", "maxLength": 64}}))},
        "/rooms/{roomId}/media": {"post": _no_node(op(
            "A fresh media grant for the caller's joined session (after admission, or to "
            "reconnect: a room whose node died moves to a healthy one)", params=[ROOM],
            auth="a participant token of this room"))},
    }


WEBHOOK_ID = {"name": "webhookId", "in": "path", "required": True,
              "schema": {"type": "string", "format": "uuid"}}
WEBHOOK_REFS = {name: {"$ref": f"#/components/schemas/{name}"}
                for name in ("Webhook", "WebhookCreated", "WebhookDelivery")}
WEBHOOK_SCHEMAS = {
    "Webhook": {"type": "object", "required": ["webhookId", "url", "events", "rooms", "status",
                                               "createdAt"], "properties": {
        "webhookId": {"type": "string", "format": "uuid"}, "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "rooms": {"type": "array", "items": {"type": "string"}, "nullable": True},
        "status": {"type": "string", "enum": ["active", "failing", "deleted"]},
        "createdAt": TIME, "disabledReason": {"type": "string", "nullable": True}}},
    "WebhookCreated": {"allOf": [{"$ref": "#/components/schemas/Webhook"}, {
        "type": "object", "required": ["secret"], "properties": {"secret": {
            "type": "string", "description": "whsec_...: shown here once, never again"}}}]},
    "WebhookDelivery": {"type": "object", "required": [
        "deliveryId", "roomId", "seq", "type", "attempt", "outcome", "at"], "properties": {
        "deliveryId": {"type": "string", "description": "the DropOn-Delivery-Id header"},
        "roomId": {"type": "string"}, "seq": {"type": "integer"}, "type": {"type": "string"},
        "attempt": {"type": "integer", "minimum": 1},
        "outcome": {"type": "string", "enum": ["delivered", "failed", "refused"]},
        "responseCode": {"type": "integer", "nullable": True},
        "latencyMs": {"type": "number", "nullable": True},
        "error": {"type": "string", "nullable": True}, "at": TIME,
        "nextAttemptAt": {"type": "string", "format": "date-time", "nullable": True}}},
}


def _unconfigured(operation: dict) -> dict:
    """A 503 in the Error shape, as ``_no_node`` adds, for a server without a webhook key."""
    _no_node(operation)["responses"]["503"]["description"] = (
        "webhooks_not_configured: the server has no DROPON_WEBHOOK_KEY")
    return operation


def _webhook_paths() -> dict:
    """Webhook endpoints (docs/api.md, "Webhooks"; docs/webhooks.md)."""
    listed = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 100}
    return {
        "/webhooks": {
            "post": _unconfigured(op(
                "Register a webhook endpoint; the answer shows its signing secret, once. "
                "422 webhook_url_not_allowed for a host resolving to a loopback, private or "
                "link-local address", status="201", result=WEBHOOK_REFS["WebhookCreated"],
                request=body({"url": {"type": "string", "maxLength": 2048},
                              "events": {**listed, "description": 'room event types, or ["*"]'},
                              "rooms": {**listed, "nullable": True,
                                        "description": "room ids; absent: every room"},
                              "roomId": {"type": "string", "maxLength": 128,
                                         "description": "one room: rooms [roomId]"}},
                             ("url",)))),
            "get": _unconfigured(op("Webhook endpoints (never their secrets)", result={
                "type": "object", "required": ["webhooks"], "properties": {
                    "webhooks": {"type": "array", "items": WEBHOOK_REFS["Webhook"]}}}))},
        "/webhooks/{webhookId}": {
            "get": _unconfigured(op("A webhook endpoint", params=[WEBHOOK_ID],
                                    result=WEBHOOK_REFS["Webhook"])),
            "delete": _unconfigured(op("Delete a webhook endpoint: nothing more is sent to it",
                                       params=[WEBHOOK_ID], result=WEBHOOK_REFS["Webhook"]))},
        "/webhooks/{webhookId}/rotate-secret": {"post": _unconfigured(op(
            "A new signing secret, shown once; the previous one also signs deliveries for "
            "keepPreviousFor seconds (default 0: it stops now)", params=[WEBHOOK_ID],
            request=body({"keepPreviousFor": {"type": "integer", "minimum": 0,
                                              "maximum": 604800}}),
            result={"type": "object", "required": ["webhookId", "secret"], "properties": {
                "webhookId": {"type": "string", "format": "uuid"},
                "secret": {"type": "string", "description": "shown here once, never again"},
                "previousSecretExpiresAt": TIME}}))},
        "/webhooks/{webhookId}/deliveries": {"get": _unconfigured(op(
            "The endpoint's latest delivery attempts, newest first", params=[
                WEBHOOK_ID, query("limit", {"type": "integer", "minimum": 1, "maximum": 100},
                                  "at most this many attempts (20)")],
            result={"type": "object", "required": ["deliveries"], "properties": {
                "deliveries": {"type": "array", "items": WEBHOOK_REFS["WebhookDelivery"]}}}))},
    }


@lru_cache(maxsize=1)
def _document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "DropOnAir Rooms", "version": "1.0.0",
                 "description": "Control plane of DropOnAir Rooms. Every call carries "
                                "Authorization: Bearer <HS256 JWT>; see docs/api.md."},
        "paths": _paths(),
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}}}}},
                **WEBHOOK_SCHEMAS}},
    }


def document() -> dict:
    return copy.deepcopy(_document())
