"""The OpenAPI 3 document of the HTTP API, served at ``GET /openapi.json``.

Written by hand next to the routes; ``tests/unit/test_openapi.py`` checks that every
Chalice route appears here with its methods, and nothing else does. Its schemas are in
``openapi_schemas.py``. ``x-dropon-caller`` names the kind of token a route is made for
(``admin``, ``participant`` or ``node``); the description says who else may call it.
"""
from __future__ import annotations

import copy
from functools import lru_cache

from ..config import Settings
from ..domain.recordings import OUTPUTS
from . import destinations, recordings, webhooks
from .openapi_schemas import (BOOL, CLOSE_REASON, COMPONENTS, CPU, CURSOR, IDENTITY, NODE_ID,
                              OBJ, REASON, ROLE, ROOM_NAME, SEQ, TIME, URL,
                              count, fixed, nullable, ref, strict, text)

ROOM = {"name": "roomId", "in": "path", "required": True, "schema": {"type": "string"}}
PARTICIPANT = {"name": "participantId", "in": "path", "required": True,
               "schema": {"type": "string"}}
IDENTITY_PATH = {"name": "identity", "in": "path", "required": True, "schema": IDENTITY}
NODE_PATH = {"name": "nodeId", "in": "path", "required": True, "schema": NODE_ID}
ERRORS = {"400": "invalid_json (the body is not a JSON object), invalid_parameter (query)",
          "401": "missing, forged or expired token",
          "403": "not allowed for this token (forbidden, wrong_room, banned, not_a_host)",
          "404": "no such room or participant", "409": "conflicts with the room's state",
          "413": "body_too_large",
          "415": "unsupported_media_type: the body is not sent as application/json",
          "422": "missing_field, invalid_field (a path parameter or body field), "
                 "unknown_field, invalid_argument, invalid_policy",
          "503": "store_unavailable (or no_media_node); retry after Retry-After seconds"}
SETTINGS = Settings()  # its token lifetime and long-poll limits are not configurable


def query(name: str, schema: dict, description: str) -> dict:
    # an empty value (?cursor=) is the same as leaving the parameter out
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "allowEmptyValue": True, "description": description}


def body(properties: dict, required: tuple = (), example: dict | None = None) -> dict:
    content = {"schema": strict(properties, required)}
    if example is not None:
        content["example"] = example
    return {"required": bool(required), "content": {"application/json": content}}


# routes that read a body only to refuse fields: {} or nothing
EMPTY = body({}, example={})


def op(summary: str, *, params=(), request=None, status="200", result=OBJ, auth="admin",
       caller="admin") -> dict:
    responses = {status: {"description": "success", "content": {
        "application/json": {"schema": result}}}}
    for code, why in ERRORS.items():
        responses[code] = {"description": why, "content": {"application/json": {
            "schema": ref("Error")}}}
    operation = {"summary": summary, "description": f"Token: {auth}.",
                 "parameters": list(params), "responses": responses, "x-dropon-caller": caller}
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
OWN = "a participant token of this room"

# what a reader sees depends on what it is in the room now (docs/api.md, "What a token reads")
READ_SCOPES = (
    "Admin tokens and the room's joined hosts get the full room (Room). A joined speaker "
    "or audience member gets the member view (MemberRoom): no bans, only joined "
    "participants with id, identity, role, handRaised, muted. Anyone else with a token of "
    "the room (waiting, departed, not joined) gets SelfRoom: {id, name, status, "
    "participant} with its own record only. Past versions (version, at) are for admins "
    "and hosts.")
FEED_SCOPES = (
    "Admins, hosts and the room's media node get every event. A joined speaker or "
    "audience member gets the live call's events (joins and admissions, leaves without "
    "reason, hands, roles, mutes, policy, node, lifecycle) and its own; no knocks, "
    "denials, kicks or bans of others (another's kick reads as ParticipantLeft). Anyone "
    "else gets its own events and RoomOpened/RoomClosed, with other participants unnamed. "
    "Hidden events still advance nextAfter.")


def _scoped(operation: dict, scopes: str) -> dict:
    operation["description"] += " " + scopes
    return operation


def _room_paths() -> dict:
    reason = body({"reason": REASON}, example={"reason": "left"})
    own = {"params": [ROOM], "auth": OWN, "caller": "participant"}
    return {
        "/openapi.json": {"get": op("This document", auth="any valid token",
                                    result=ref("OpenAPI"))},
        "/health": {"get": op("Whether the API's event store answers: {ok: true}, or 503 "
                              "{ok: false}; nothing else is said", auth="none (load "
                              "balancers and uptime checks)",
                              result=fixed({"ok": BOOL}))},
        "/rooms": {
            "post": op("Create a room: persistent, or with startsAt and endsAt (endsAt "
                       "after startsAt)", status="201", result=ref("Room"), request=body({
                "name": ROOM_NAME, "policy": OBJ, "metadata": OBJ, "startsAt": TIME,
                "endsAt": TIME, "persistent": BOOL}, ("name",),
                example={"name": "standup", "persistent": True})),
            "get": op("List rooms", result=ref("RoomsPage"), params=[
                query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "page size"),
                query("cursor", CURSOR, "nextCursor of the previous page")])},
        "/rooms/{roomId}": {"get": _scoped(op(
            "A room's state, now or as it was", auth=MEMBER, result=ref("RoomView"), params=[
                ROOM, query("version", {**SEQ, "minimum": 1},
                            "state at this version (admin or host; else 403 not_a_host)"),
                query("at", TIME, "state at this time (admin or host; else 403 not_a_host); "
                      "not with version")]),
            READ_SCOPES)},
        "/rooms/{roomId}/policy": {"patch": op(
            "Change the room's policy (the fields of docs/rooms.md; others are "
            "422 invalid_policy)", auth=HOST, params=[ROOM], result=ref("Room"),
            request={"required": True, "content": {"application/json": {
                "schema": {"type": "object", "minProperties": 1},
                "example": {"waitingRoom": True}}}})},
        "/rooms/{roomId}/close": {"post": op(
            "Close the room; reason is a code such as host_ended", auth=HOST, params=[ROOM],
            result=ref("Room"), request=body({"reason": CLOSE_REASON},
                                             example={"reason": "host_ended"}))},
        "/rooms/{roomId}/tokens": {"post": op(
            "Mint a participant token", status="201", params=[ROOM], result=ref("Token"),
            request=body({
                "identity": IDENTITY, "role": ROLE,
                "ttlSeconds": {"type": "integer", "minimum": 1,
                               "maximum": SETTINGS.participant_token_max_ttl},
                "replace": BOOL}, ("identity", "role"),
                example={"identity": "ada", "role": "speaker"}))},
        "/rooms/{roomId}/join": {"post": op(
            "Join (joined, or waiting for admission); in an SFU room a joined participant "
            "gets media {nodeId, url, token, expiresAt}, or media null and mediaError "
            "no_media_node when no node is healthy; every join answer carries iceServers "
            "(STUN, and TURN with a credential minted for the participant)", request=EMPTY,
            result=ref("JoinResult"), **own)},
        "/rooms/{roomId}/leave": {"post": op("Leave the room", request=reason,
                                             result=ref("RoomView"), **own)},
        "/rooms/{roomId}/participants/{participantId}/mute": {"post": op(
            "Mute or unmute a participant (enforced by the media node); audio or video "
            "must be true", auth=HOST, params=[ROOM, PARTICIPANT], result=ref("Room"),
            request=body({"audio": BOOL, "video": BOOL, "muted": BOOL},
                         example={"audio": True, "video": True, "muted": True}))},
        "/rooms/{roomId}/hand": {
            "post": op("Raise your hand", request=EMPTY, result=ref("RoomView"), **own),
            "delete": op("Lower your hand", result=ref("RoomView"), **own)},
        "/rooms/{roomId}/bans/{identity}": {"delete": op(
            "Lift a ban", auth=HOST, params=[ROOM, IDENTITY_PATH], result=ref("Room"))},
        "/rooms/{roomId}/events": {"get": _scoped(op(
            "The room's history, in order", auth=MEMBER + ", or the room's media node",
            result=ref("EventsPage"), params=[
                ROOM, query("after", SEQ, "events after this seq (pass the last nextAfter)"),
                query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                      "at most this many stored events are read"),
                query("wait", {"type": "integer", "minimum": 0,
                               "maximum": SETTINGS.max_events_wait},
                      "seconds to wait for a first event the caller may see (long poll)")]),
            FEED_SCOPES)},
    }


def _host_control_paths() -> dict:
    return {f"/rooms/{{roomId}}/participants/{{participantId}}/{path}": {"post": op(
        summary, auth=HOST, params=[ROOM, PARTICIPANT], request=EMPTY, result=ref("Room"))}
        for path, summary in HOST_CONTROLS.items()}


def _node_paths() -> dict:
    """Media nodes' routes (docs/api.md, "Media nodes")."""
    node = "a node token (iss node:<nodeId>, signed with DROPON_NODE_SECRET)"
    return {
        "/nodes": {"get": op("Media nodes with their last load and health",
                             result=ref("NodesPage"))},
        "/nodes/{nodeId}/heartbeat": {"post": op(
            "A node's heartbeat; the first one registers it", auth=node + " naming nodeId",
            caller="node", params=[NODE_PATH], result=ref("NodeHeartbeat"), request=body({
                "url": URL, "rooms": count(), "participants": count(), "streams": count(),
                "cpu": CPU, "capacity": count(1), "draining": {"type": "boolean"}},
                ("url", "rooms", "participants", "streams", "cpu", "capacity"),
                example={"url": "http://127.0.0.1:8100", "rooms": 0, "participants": 0,
                         "streams": 0, "cpu": 0.5, "capacity": 64}))},
        "/rooms/{roomId}/participants/{participantId}/disconnected": {"post": op(
            "The room's node reports a failed or silent connection; recorded as a leave",
            auth=node + " assigned to the room", caller="node", params=[ROOM, PARTICIPANT],
            result=ref("Disconnected"),
            request=body({"reason": REASON}, example={"reason": "silent"}))},
        "/rooms/{roomId}/media": {"post": op(
            "A fresh media grant for the caller's joined session (after admission, or to "
            "reconnect: a room whose node died moves to a healthy one); 503 no_media_node "
            "while no node is healthy", params=[ROOM], auth=OWN, caller="participant",
            request=EMPTY, result=ref("MediaResult"))},
    }


DESTINATION = {"name": "destinationId", "in": "path", "required": True,
               "schema": {"type": "string"}}
RECORDING = {"name": "recordingId", "in": "path", "required": True,
             "schema": {"type": "string"}}
TEXT = {"type": "string"}
# the limits destinations.py and recordings.py enforce (Fields.text: printable, not blank)
NAME, SECRET = text(destinations.NAME_MAX, "recordings"), text(destinations.SECRET_MAX, "secret")
ENDPOINT = {**URL, "maxLength": destinations.URL_MAX, "example": "https://s3.example.com"}
S3_KEYS = strict({"accessKeyId": text(destinations.NAME_MAX, "AKIDEXAMPLE"),
                  "secretAccessKey": SECRET, "sessionToken": SECRET},
                 ("accessKeyId", "secretAccessKey"))
GCS_KEY = {"type": "object", "description": "a service account's JSON key",
           "required": ["client_email", "private_key"], "example": {
               "client_email": "rec@acme.iam.gserviceaccount.com",
               "private_key": "-----BEGIN PRIVATE KEY-----\n..."}}


def _example(schema: dict, **example) -> dict:
    return {**schema, "example": example}


def _destination_body(kind: str, required: tuple, properties: dict, example: dict) -> dict:
    schema = strict({"type": {"type": "string", "enum": [kind]}, **properties,
                     "prefix": NAME, "endpoint": ENDPOINT, "verify": BOOL},
                    ("type", *required))
    return _example(schema, type=kind, **example)


S3_BODY = _destination_body("s3", ("bucket", "region"), {
    "bucket": NAME, "region": NAME, "forcePathStyle": BOOL, "roleArn": NAME, "externalId": NAME,
    "credentials": {**S3_KEYS, "example": {"accessKeyId": "AKIDEXAMPLE",
                                           "secretAccessKey": "wJalrXUtnFEMI/K7MDENG"}}},
    {"bucket": "recordings", "region": "eu-west-1", "prefix": "rooms/"})
GCS_BODY = _destination_body("gcs", ("bucket",), {"bucket": NAME, "credentials": GCS_KEY},
                             {"bucket": "recordings", "prefix": "rooms/"})
AZURE_BODY = _destination_body("azure", ("account", "container"), {
    "account": NAME, "container": NAME, "accountKey": SECRET, "sasToken": SECRET},
    {"account": "acme", "container": "recordings"})
DESTINATION_SETTINGS = {"type": TEXT, "bucket": TEXT, "region": TEXT, "account": TEXT,
                        "container": TEXT, "prefix": TEXT, "endpoint": TEXT,
                        "forcePathStyle": BOOL, "roleArn": TEXT, "externalId": TEXT}
SEQ_FIELD = {"type": "integer", "minimum": 0, "maximum": recordings.MAX_SEQ}
MANIFEST_FILE = {"type": "object", "additionalProperties": False, "required": [
    "uri", "bytes", "sha256", "etag", "durationSeconds", "kind", "codecs", "startedAt",
    "endedAt", "startSeq", "endSeq"], "properties": {
    "uri": text(recordings.URI_MAX, "s3://recordings/rooms/a.webm"), "bytes": SEQ_FIELD,
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "etag": text(recordings.TEXT, '"e1"'),
    "durationSeconds": {"type": "number", "minimum": 0, "exclusiveMaximum": True,
                        "maximum": recordings.DURATION_MAX},
    "kind": {"type": "string", "enum": list(recordings.KINDS)},
    "codecs": {"type": "array", "minItems": 1, "maxItems": recordings.MAX_CODECS,
               "items": {"type": "string", "minLength": 1, "maxLength": 64}},
    "participantId": nullable(text(recordings.TEXT, "p-1")),
    "startedAt": TIME, "endedAt": TIME, "startSeq": SEQ_FIELD, "endSeq": SEQ_FIELD},
    "example": {"uri": "s3://recordings/rooms/a.webm", "bytes": 1234, "sha256": "a" * 64,
                "etag": '"e1"', "durationSeconds": 12.5, "kind": "audio", "codecs": ["opus"],
                "startedAt": "2026-12-06T10:00:00Z", "endedAt": "2026-12-06T10:00:12.5Z",
                "startSeq": 4, "endSeq": 9}}
FILES = {"type": "array", "maxItems": recordings.MAX_FILES, "items": ref("ManifestFile")}


def _report(event: str, required: tuple = (), **properties) -> dict:
    """One kind of node report: which fields come with its ``event`` is fixed."""
    return strict({"event": {"type": "string", "enum": [event]}, **properties},
                  ("event", *required))


RECORDING_REPORTS = [
    _example(_report("recording"), event="recording"),
    _example(_report("uploading"), event="uploading"),
    _example(_report("uploaded", ("file",), file=ref("ManifestFile")), event="uploaded",
             file=MANIFEST_FILE["example"]),
    _example(_report("completed", ("files",), files=FILES), event="completed",
             files=[MANIFEST_FILE["example"]]),
    _example(_report("failed", ("reason", "files"), reason=REASON,
                     error=text(recordings.ERROR_MAX, "AccessDenied"), files=FILES),
             event="failed", reason="upload_failed", files=[])]
RECORDING_SCHEMAS = {
    "NewDestination": {"oneOf": [S3_BODY, GCS_BODY, AZURE_BODY],
                       "discriminator": {"propertyName": "type"}},
    "Destination": {"type": "object", "required": ["destinationId", "type", "secretFields"],
                    "description": "a destination's settings; its secrets are never returned",
                    "properties": {"destinationId": TEXT, **DESTINATION_SETTINGS,
                                   "createdAt": TIME,
                                   "secretFields": {"type": "array", "items": TEXT}}},
    "NodeDestination": {"type": "object", "required": ["type", "prefix", "sealed"],
                        "properties": {**DESTINATION_SETTINGS, "sealed": {
                            "type": "string", "nullable": True,
                            "description": "the secrets' JSON, sealed (a Fernet token with "
                                           "DROPON_SECRETS_KEY, or a KMS ciphertext in base64)"},
                            "recordingStatus": {"type": "string", "description":
                                                "the recording's status now"},
                            "recordingRetries": {"type": "integer", "description":
                                                 "retry-upload requests so far"}}},
    "Verification": {"type": "object", "required": ["ok"], "properties": {
        "ok": {"type": "boolean"}, "error": {"type": "string", "description":
                                             "the store's own message"}}},
    "ManifestFile": MANIFEST_FILE,
    "Recording": {"type": "object", "required": [
        "recordingId", "output", "status", "destinationId", "files"], "properties": {
        "recordingId": TEXT, "output": {"type": "string", "enum": list(OUTPUTS)},
        "status": {"type": "string", "enum": ["starting", "recording", "stopping",
                                              "uploading", "completed", "failed"]},
        "destinationId": TEXT, "files": {"type": "array", "items": ref("ManifestFile")},
        "startedAt": TIME, "stoppedAt": {**TIME, "nullable": True},
        "endedAt": {**TIME, "nullable": True}, "reason": TEXT,
        "error": {"type": "string", "nullable": True},
        "leftovers": {"type": "object", "required": ["objects", "uploads"], "description":
                      "after node_lost: what the lost node left under the recording's "
                      "prefix (S3), its unfinished multipart uploads aborted; a sweep "
                      "the store could not answer is retried (docs/api.md)",
                      "properties": {
                          "objects": {"type": "array", "items": {"type": "object"}},
                          "uploads": {"type": "array", "items": {"type": "object"}},
                          "error": {"type": "string", "nullable": True},
                          "status": {"type": "string", "enum": [
                              "swept", "retrying", "stopped", "gave_up"]},
                          "attempts": {"type": "integer", "description":
                                       "sweeps made when this outcome was recorded"},
                          "firstAttemptAt": {**TIME, "nullable": True},
                          "recordedAt": {**TIME, "nullable": True}}}}},
    "RecordingReport": {"oneOf": RECORDING_REPORTS,
                        "discriminator": {"propertyName": "event"}},
}


def _json(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _recording_paths() -> dict:
    """Destinations and recordings (docs/api.md, "Recordings")."""
    node = "a node token of the room's assigned node (else 403 not_room_node)"
    one = "/rooms/{roomId}/recordings/{recordingId}"
    rec, recs = ref("Recording"), {"type": "object", "required": ["recordings"], "properties": {
        "recordings": {"type": "array", "items": ref("Recording")}}}
    return {
        "/destinations": {
            "post": op("Register a bucket (its secrets are sealed, never returned)",
                       status="201", request=_json(ref("NewDestination")),
                       result=ref("Destination")),
            "get": op("The destinations", result={"type": "object", "required": [
                "destinations"], "properties": {
                "destinations": {"type": "array", "items": ref("Destination")}}})},
        "/destinations/{destinationId}": {
            "get": op("A destination", params=[DESTINATION], result=ref("Destination")),
            "delete": op("Forget a destination", params=[DESTINATION], result={
                "type": "object", "required": ["destinationId", "deleted"], "properties": {
                    "destinationId": TEXT, "deleted": {"type": "boolean"}}})},
        "/destinations/{destinationId}/verify": {"post": op(
            "Write and delete a probe object; ok, or the store's error", params=[DESTINATION],
            request=EMPTY, result=ref("Verification"))},
        "/rooms/{roomId}/recordings": {
            "post": op("Start a recording (409 not_sfu, recording_in_progress; 404 "
                       "destination_not_found)", auth=HOST, status="201", params=[ROOM],
                       request=body({"destinationId": text(recordings.TEXT, "dst-1"), "output": {
                           "type": "string", "enum": list(OUTPUTS)}},
                           ("destinationId", "output"),
                           example={"destinationId": "dst-1", "output": "per-track"}),
                       result=rec),
            "get": op("The room's recordings", auth=HOST, params=[ROOM], result=recs)},
        one: {"get": op("A recording", auth=HOST, params=[ROOM, RECORDING], result=rec)},
        one + "/stop": {"post": op("Stop a recording", auth=HOST, params=[ROOM, RECORDING],
                                   request=EMPTY, result=rec)},
        one + "/retry-upload": {"post": op(
            "Upload a failed recording's files again (409 invalid_recording_state unless "
            "failed)", auth=HOST, params=[ROOM, RECORDING], request=EMPTY, result=rec)},
        one + "/destination": {"get": op(
            "Where the node writes the recording, secrets sealed", auth=node, caller="node",
            params=[ROOM, RECORDING], result=ref("NodeDestination"))},
        one + "/report": {"post": op(
            "The node reports on a recording (409 invalid_recording_state; a repeated "
            "report changes nothing)", auth=node, caller="node", params=[ROOM, RECORDING],
            request=_json(ref("RecordingReport")), result=rec)},
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
    """The 503 (the Error shape every operation documents) of a server without a webhook key."""
    operation["responses"]["503"]["description"] = (
        "webhooks_not_configured: the server has no DROPON_WEBHOOK_KEY; store_unavailable")
    return operation


def _webhook_paths() -> dict:
    """Webhook endpoints (docs/api.md, "Webhooks"; docs/webhooks.md)."""
    def listed(items: dict) -> dict:
        return {"type": "array", "items": items, "minItems": 1, "maxItems": webhooks.MAX_LIST}
    # what parse_url takes: http(s), no control character or space (a loopback or private
    # host is refused unless DROPON_WEBHOOKS_ALLOW_PRIVATE=1, as make run sets it)
    url = {"type": "string", "maxLength": webhooks.URL_MAX,
           "pattern": r"^https?://[^\x00-\x20]+$", "example": "http://127.0.0.1:8100/hooks"}
    events = {"type": "string", "enum": sorted(webhooks.ROOM_EVENT_TYPES) + ["*"]}
    room = {"type": "string", "minLength": 1, "maxLength": webhooks.ROOM_ID_MAX}
    return {
        "/webhooks": {
            "post": _unconfigured(op(
                "Register a webhook endpoint; the answer shows its signing secret, once. "
                "422 webhook_url_not_allowed for a host resolving to a loopback, private or "
                "link-local address", status="201", result=WEBHOOK_REFS["WebhookCreated"],
                request=body({"url": url,
                              "events": {**listed(events),
                                         "description": 'room event types, or ["*"]'},
                              "rooms": {**listed(room),
                                        "description": "room ids; absent: every room"},
                              "roomId": {**text(webhooks.ROOM_ID_MAX, "room-1"),
                                         "description": "one room: rooms [roomId]"}},
                             ("url",), example={"url": url["example"], "events": ["*"]}))),
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
                                              "maximum": webhooks.KEEP_PREVIOUS_MAX}},
                         example={"keepPreviousFor": 3600}),
            result={"type": "object", "required": ["webhookId", "secret"], "properties": {
                "webhookId": {"type": "string", "format": "uuid"},
                "secret": {"type": "string", "description": "shown here once, never again"},
                "previousSecretExpiresAt": TIME}}))},
        "/webhooks/{webhookId}/deliveries": {"get": _unconfigured(op(
            "The endpoint's latest delivery attempts, newest first", params=[
                WEBHOOK_ID, query("limit", {"type": "integer", "minimum": 1,
                                            "maximum": webhooks.DELIVERIES_MAX},
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
        "paths": {**_room_paths(), **_host_control_paths(), **_node_paths(),
                  **_recording_paths(), **_webhook_paths()},
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
            "schemas": {**COMPONENTS, **RECORDING_SCHEMAS, **WEBHOOK_SCHEMAS}},
    }


def document() -> dict:
    return copy.deepcopy(_document())
