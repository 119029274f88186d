"""The real-time socket's edge: API Gateway's ``$connect``, ``$default`` and ``$disconnect``
events and the events table's stream records, each parsed and handed to one use case.

Refusals and errors take the HTTP API's codes (``errors.to_response``): a refused
``$connect`` answers its HTTP status (the local gateway closes with ``4000 + status``),
a failed command answers ``{type: "ERROR", code, message, requestId}``.
"""
from __future__ import annotations

import json
import time
from typing import Callable

import jwt
from chalice.app import WebsocketDisconnectedError

from .. import bootstrap
from ..domain.connections import ConnectionRecord
from ..domain.signaling import DESCRIPTIONS, TYPES
from . import errors
from .auth import authenticate, require_room
from .http import to_json
from .ice_servers import join_answer

Post = Callable[[str, str], bool]
REQUEST_ID_MAX = 64
ACTIONS = ("join", "raise_hand", "lower_hand", "leave", "signal")
PARTICIPANT_ID_MAX = 64
# a signal's data as JSON: room for an SDP of many m-lines, well under API Gateway's
# 32 KB frame and 128 KB message
SIGNAL_DATA_MAX = 16 * 1024


def sender(websocket_api) -> Post:
    """``post_to_connection`` through Chalice's ``WebsocketAPI``; ``False`` once gone."""
    if websocket_api.session is None:
        import boto3  # the Lambda runtime's; imported only when a socket is served
        websocket_api.session = boto3.Session()

    def post(connection_id: str, text: str) -> bool:
        try:
            websocket_api.send(connection_id, text)
        except WebsocketDisconnectedError:
            return False
        return True
    return post


def connect(event) -> dict:
    """``$connect``: authenticate ``?token=`` for ``?roomId=`` and record the socket."""
    params = event.to_dict().get("queryStringParameters") or {}
    try:
        room_id, after, token = _room_id(params), _after(params), params.get("token") or ""
        settings = bootstrap.settings()
        principal = authenticate({"authorization": f"Bearer {token}"}, settings)
        if principal.kind == "node":
            raise errors.forbidden("forbidden", "media nodes read GET /rooms/{roomId}/events")
        require_room(principal, room_id)
        expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
        bootstrap.sockets().connect(principal.actor, room_id, event.connection_id,
                                    after=after, role=principal.role,
                                    replace=principal.replace, expires=expires)
    except Exception as exc:  # noqa: BLE001 - the one mapping point
        response = errors.to_response(exc)
        return {"statusCode": response.status_code, "body": to_json(response.body)}
    return {"statusCode": 200}


def disconnect(event) -> None:
    bootstrap.sockets().disconnect(event.connection_id)


def message(event, post: Post) -> None:
    """``$default``: one command; its answer (``REPLY`` or ``ERROR``) goes to the socket."""
    request_id = None
    try:
        body = _json_object(event.body)
        request_id = _request_id(body)
        action = body.get("action")
        reader = bootstrap.sockets().reader(event.connection_id)
        if reader is None:
            raise errors.unauthorized("unauthorized", "this socket is not connected")
        data = _run(action, body, reader, event.connection_id, post)
        reply = {"type": "REPLY", "action": action, "requestId": request_id, "data": data}
    except Exception as exc:  # noqa: BLE001 - the one mapping point
        error = errors.to_response(exc).body["error"]
        reply = {"type": "ERROR", "code": error["code"], "message": error["message"],
                 "requestId": request_id}
    post(event.connection_id, to_json(reply))


def stream(event, post: Post) -> int:
    """The events table's stream: bring the sockets of every room in the batch up to
    date; returns the messages sent. A failure raises, so the batch is retried (each
    socket's cursor keeps a retry from repeating anything)."""
    rooms = dict.fromkeys(record.keys["i"]["S"] for record in event
                          if record.event_name == "INSERT")
    return sum(bootstrap.sockets().deliver(room, post, to_json) for room in rooms)


def _run(action, body: dict, reader: ConnectionRecord, connection_id: str, post: Post):
    if action == "resume":
        return {"delivered": bootstrap.sockets().deliver(reader.room_id, post, to_json,
                                                         only=connection_id)}
    if action not in ACTIONS:
        raise errors.ApiError("invalid_field", "action must be join, raise_hand, lower_hand, "
                              "leave, signal or resume", 422)
    if reader.kind != "participant":
        raise errors.forbidden("forbidden", "this command needs a participant token")
    if reader.expires < time.time():
        raise errors.unauthorized("token_expired", "the socket's token has expired")
    actor, room_id, now = reader.actor, reader.room_id, bootstrap.now()
    rooms = bootstrap.application()
    if action == "join":
        joined = bootstrap.nodes().join(actor, room_id, identity=reader.actor_id,
                                        role=reader.role, replace=reader.replace, now=now)
        return join_answer(joined, bootstrap.settings())
    if action == "raise_hand":
        return rooms.raise_hand(actor, room_id, now)
    if action == "lower_hand":
        return rooms.lower_own_hand(actor, room_id, now)
    if action == "leave":
        return rooms.leave_own_session(actor, room_id, "left", now)
    to, data = _signal(body)
    return bootstrap.signaling().signal(reader, to, data, post, to_json)


def _signal(body: dict) -> tuple[str, dict]:
    """``to`` and ``data`` of a ``signal``: the shapes in ``docs/api.md``, "Signaling"."""
    to, data = body.get("to"), body.get("data")
    if to is None or data is None:
        raise errors.ApiError("missing_field", "a signal needs to and data", 422)
    if not isinstance(to, str) or not 0 < len(to) <= PARTICIPANT_ID_MAX:
        raise errors.ApiError("invalid_field", "to is a participantId", 422)
    if not isinstance(data, dict) or data.get("type") not in TYPES:
        raise errors.ApiError("invalid_field", "data is an object whose type is one of "
                              + ", ".join(TYPES), 422)
    if data["type"] in DESCRIPTIONS and not (isinstance(data.get("sdp"), str) and data["sdp"]):
        raise errors.ApiError("invalid_field", f"a {data['type']}'s data has its sdp", 422)
    if data["type"] == "candidate" and not isinstance(data.get("candidate", False),
                                                      (dict, type(None))):
        raise errors.ApiError("invalid_field", "a candidate's data has candidate: an "
                              "RTCIceCandidateInit object, or null at the end", 422)
    if len(to_json(data).encode()) > SIGNAL_DATA_MAX:
        raise errors.ApiError("signal_too_large",
                              f"a signal's data is at most {SIGNAL_DATA_MAX} bytes of JSON", 413)
    return to, data


def _json_object(body) -> dict:
    try:
        value = json.loads(body)
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise errors.bad_request("invalid_json", "a command is a JSON object")
    return value


def _request_id(body: dict):
    value = body.get("requestId")
    if value is None or (isinstance(value, str) and len(value) <= REQUEST_ID_MAX):
        return value
    raise errors.ApiError("invalid_field", "requestId is a string of at most 64 characters", 422)


def _room_id(params: dict) -> str:
    room_id = params.get("roomId")
    if not room_id:
        raise errors.bad_request("invalid_parameter", "roomId is required")
    return room_id


def _after(params: dict) -> int | None:
    after = params.get("after")
    if after is None:
        return None
    if not after.isdigit() or len(after) > 12:
        raise errors.bad_request("invalid_parameter", "after is a non-negative integer")
    return int(after)
