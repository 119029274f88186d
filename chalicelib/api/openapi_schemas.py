"""The OpenAPI document's schemas: request fields with the limits the edge enforces, and
the bodies the routes return (``application/views.py``, ``application/visibility.py``,
``nodes/service.py``, ``api/http.py``).

Request limits come from the validators' own constants, so the document and the edge
cannot drift apart silently; ``tests/integration/test_openapi_constraints.py`` sends
every documented boundary to the API, ``test_openapi_responses.py`` and
``test_schemathesis.py`` check real answers against the response schemas.
"""
from __future__ import annotations

from ..domain.roster import ROLES
from .node_tokens import NODE_ID as NODE_ID_PATTERN
from . import fields, schemas
from .nodes import COUNT_MAX, CPU_MAX, URL_MAX


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    """``schema`` or null; written out, since OpenAPI 3.0 ignores ``nullable`` beside a $ref."""
    return {**schema, "nullable": True}


STRING = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
OBJ = {"type": "object"}
# what Fields.text accepts: printable (no control character), not only blanks
TEXT_PATTERN = r"^[^\x00-\x1F]*[^\x00-\x1F\s][^\x00-\x1F]*$"


def text(max_len: int, example: str) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": max_len, "pattern": TEXT_PATTERN,
            "example": example}


def count(lo: int = 0) -> dict:
    return {"type": "integer", "minimum": lo, "maximum": COUNT_MAX}


IDENTITY = {"type": "string", "minLength": 1, "maxLength": fields.IDENTITY_MAX,
            "pattern": schemas.IDENTITY.pattern, "example": "ada"}
NODE_ID = {"type": "string", "pattern": NODE_ID_PATTERN.pattern, "example": "node-1"}
REASON = text(schemas.REASON_MAX, "left")
CLOSE_REASON = {"type": "string", "minLength": 1, "maxLength": schemas.CLOSE_REASON_MAX,
                "pattern": schemas.SLUG.pattern, "example": "host_ended"}
ROOM_NAME = text(schemas.NAME_MAX, "standup")
ROLE = {"type": "string", "enum": list(ROLES), "example": "speaker"}
URL = {"type": "string", "maxLength": URL_MAX, "pattern": r"^https?://[^\x00-\x1F]*$",
       "example": "http://127.0.0.1:8100"}
CPU = {"type": "number", "minimum": 0, "maximum": CPU_MAX}
# the query's cursor is a notification id this API returned
CURSOR = {"type": "string", "pattern": schemas.CURSOR.pattern, "example": "20"}
SEQ = {"type": "integer", "minimum": 0, "maximum": schemas.MAX_SEQ}


def strict(properties: dict, required: tuple = ()) -> dict:
    """An object with exactly these properties (the edge refuses others). An optional
    field may be null, which the edge reads as leaving it out (``Fields.value``)."""
    properties = {name: schema if name in required else nullable(schema)
                  for name, schema in properties.items()}
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def fixed(properties: dict, optional: tuple = ()) -> dict:
    """A response object whose properties are always there (but ``optional``)."""
    return {"type": "object", "properties": properties,
            "required": [k for k in properties if k not in optional]}


MUTED = fixed({"audio": BOOL, "video": BOOL})
POLICY = {"type": "object", "description": "docs/rooms.md, Policy", "properties": {
    "maxParticipants": INT, "waitingRoom": BOOL, "hostRequired": BOOL, "stageMode": BOOL,
    "mediaMode": {"type": "string", "enum": ["SFU", "P2P"]}, "audioOnly": BOOL,
    "hostsCanKickHosts": BOOL, "autoClose": fixed({
        "emptyTimeoutSeconds": nullable(INT), "closeAt": nullable(TIME)})}}
STATES = ["joined", "waiting", "left", "kicked", "denied"]
PARTICIPANT = fixed({
    "id": STRING, "identity": STRING, "role": {"type": "string", "enum": list(ROLES)},
    "state": {"type": "string", "enum": STATES}, "handRaised": BOOL, "muted": MUTED,
    "callId": nullable(STRING), "joinedAt": nullable(TIME), "leftAt": nullable(TIME),
    "reason": nullable(STRING)})
PUBLIC_PARTICIPANT = fixed({k: PARTICIPANT["properties"][k]
                            for k in ("id", "identity", "role", "handRaised", "muted")})
MEDIA_NODE = nullable(fixed({"nodeId": STRING, "url": STRING, "assignedAt": TIME}))
STATUS = {"type": "string", "enum": ["scheduled", "open", "closed"]}
ROOM_FIELDS = {
    "id": STRING, "name": STRING, "status": STATUS, "policy": POLICY, "metadata": OBJ,
    "startsAt": nullable(TIME), "endsAt": nullable(TIME), "persistent": BOOL,
    "counts": fixed({"joined": INT, "waiting": INT}), "mediaNode": MEDIA_NODE,
    "version": INT, "createdAt": TIME, "updatedAt": TIME, "openedAt": nullable(TIME),
    "closedAt": nullable(TIME), "closedReason": nullable(STRING)}
ROOM = fixed({**ROOM_FIELDS, "participants": {"type": "array", "items": ref("Participant")},
              "bans": {"type": "array", "items": fixed({
                  "identity": STRING, "at": TIME, "by": OBJ})}})
MEMBER_ROOM = fixed({**ROOM_FIELDS, "participants": {
    "type": "array", "items": ref("PublicParticipant")}})
SELF_ROOM = fixed({"id": STRING, "name": STRING, "status": STATUS,
                   "participant": nullable(PARTICIPANT)})
ACTOR = {"type": "object", "required": ["kind", "id"], "properties": {
    "kind": {"type": "string", "enum": ["api_key", "participant", "node", "system"]},
    "id": nullable(STRING), "participantId": STRING}}
EVENT = fixed({"seq": INT, "type": STRING, "time": TIME, "actor": ACTOR, "data": OBJ})
MEDIA_GRANT = fixed({"nodeId": STRING, "url": STRING, "token": STRING, "expiresAt": TIME})
MEDIA_ERROR = fixed({"code": {"type": "string", "enum": ["no_media_node"]},
                     "message": STRING, "retryAfter": INT})
ICE_SERVER = {**fixed({"urls": {"type": "array", "items": STRING, "minItems": 1},
                      "username": STRING, "credential": STRING},
                     optional=("username", "credential")),
              "description": "an RTCIceServer: STUN urls alone; TURN urls with a credential "
                             "minted for this participant (username <expiry unix>:"
                             "<participantId>, credential base64(HMAC-SHA1(secret, "
                             "username)), docs/api.md)"}
JOIN = fixed({
    "roomId": STRING, "participantId": STRING, "identity": STRING, "callId": nullable(STRING),
    "status": {"type": "string", "enum": ["joined", "waiting"]},
    "role": {"type": "string", "enum": list(ROLES)},
    "mediaMode": POLICY["properties"]["mediaMode"], "audioOnly": BOOL,
    "canPublish": MUTED, "mediaNode": MEDIA_NODE, "version": INT,
    "media": nullable(MEDIA_GRANT), "mediaError": nullable(MEDIA_ERROR),
    "iceServers": {"type": "array", "items": ref("IceServer")}})
NODE = fixed({"nodeId": STRING, "url": STRING, "rooms": INT, "participants": INT,
              "streams": INT, "cpu": {"type": "number"}, "capacity": INT, "healthy": BOOL,
              "draining": BOOL, "secondsSinceHeartbeat": {"type": "number"}})
ERROR = fixed({"error": {"type": "object", "required": ["code", "message"], "properties": {
    "code": STRING, "message": STRING}, "description": "code, message and the ids the "
    "error is about (roomId, participantId, field, ...)"}})

COMPONENTS = {
    "Error": ERROR,
    "Participant": PARTICIPANT,
    "PublicParticipant": PUBLIC_PARTICIPANT,
    "Room": ROOM,
    "MemberRoom": MEMBER_ROOM,
    "SelfRoom": SELF_ROOM,
    # what a token reads of a room depends on what its identity is in the room now
    "RoomView": {"anyOf": [ref("Room"), ref("MemberRoom"), ref("SelfRoom")]},
    "RoomsPage": fixed({"rooms": {"type": "array", "items": ref("Room")},
                        "nextCursor": nullable(CURSOR)}),
    "Event": EVENT,
    "EventsPage": fixed({"events": {"type": "array", "items": ref("Event")},
                         "nextAfter": {**INT, "description": "the last seq this read covered, "
                                       "shown or hidden: the next after"}}),
    "Token": fixed({"token": STRING, "roomId": STRING, "identity": STRING,
                    "role": {"type": "string", "enum": list(ROLES)}, "expiresAt": TIME}),
    "MediaGrant": MEDIA_GRANT,
    "JoinResult": JOIN,
    "IceServer": ICE_SERVER,
    "MediaResult": fixed({"media": ref("MediaGrant")}),
    "Node": NODE,
    "NodeHeartbeat": {"allOf": [ref("Node"), fixed({"deadAfterSeconds": {"type": "number"}})]},
    "NodesPage": fixed({"nodes": {"type": "array", "items": ref("Node")}}),
    "Disconnected": fixed({"participantId": STRING, "recorded": BOOL, "version": INT},
                          optional=("version",)),
    "OpenAPI": {"type": "object", "required": ["openapi", "paths"]},
}
