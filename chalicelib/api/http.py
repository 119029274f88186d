"""The glue between Chalice and the edge: one route decorator, one middleware.

``route`` wraps every view (``json_view``) so that whatever it raises is mapped by
``errors.to_response`` and whatever it returns becomes JSON; the middleware keeps the
current request per thread (Chalice's ``app.current_request`` is shared by all threads
of a process) and rewrites Chalice's own error responses.
"""
from __future__ import annotations

import contextvars
import functools
import json
import logging
import time
from datetime import datetime, timezone
from typing import Callable
from uuid import UUID, uuid4

from chalice import Chalice, Response

from .. import bootstrap
from ..telemetry import metrics
from ..telemetry.logs import bound_contextvars
from ..domain.actor import Actor
from . import errors
from .auth import (Principal, authenticate, mint_participant_token, require_admin,
                   require_room)
from .fields import json_body

_request: contextvars.ContextVar = contextvars.ContextVar("dropon_request")
log = logging.getLogger("chalicelib.api.access")


def install(app: Chalice) -> Callable:
    """Register the middleware on ``app``; return its route decorator."""

    @app.middleware("http")
    def edge(event, get_response):
        token, started = _request.set(event), time.perf_counter()
        with bound_contextvars(**request_context(event)):
            try:
                response = errors.normalize(get_response(event))
            except Exception as exc:  # noqa: BLE001 - raised outside any view: one shape too
                response = errors.to_response(exc)
            finally:
                _request.reset(token)
            # the access line: Lambda has none of its own
            log.info("%s %s %s %.1f ms", event.method, event.path, response.status_code,
                     (time.perf_counter() - started) * 1000)
        return response

    def route(path: str, method: str, **kwargs) -> Callable:
        def register(view: Callable) -> Callable:
            return app.route(path, methods=[method], **kwargs)(json_view(view))
        return register

    return route


def request_context(event) -> dict:
    """What every log line of this request carries: API Gateway's request id (a new one
    locally) and the room, participant and node its path names."""
    context = getattr(event, "context", None) or {}
    params = getattr(event, "uri_params", None) or {}
    found = {"requestId": context.get("requestId") or uuid4().hex,
             "roomId": params.get("roomId"), "participantId": params.get("participantId"),
             "nodeId": params.get("nodeId")}
    return {key: value for key, value in found.items() if value}


def blueprint_route(blueprint) -> Callable:
    """The route decorator of a ``chalice.Blueprint``'s views (``json_view`` each)."""
    def route(path: str, method: str) -> Callable:
        def register(view: Callable) -> Callable:
            return blueprint.route(path, methods=[method])(json_view(view))
        return register
    return route


def json_view(view: Callable) -> Callable:
    """A view whose exceptions take the one error shape and whose result becomes JSON."""

    @functools.wraps(view)
    def handled(*args, **kw):
        with metrics.timed(view.__name__):
            try:
                result = view(*args, **kw)
            except Exception as exc:  # noqa: BLE001 - the one mapping point
                response = errors.to_response(exc)
                if view.__name__ == "join":
                    metrics.emit(metrics.JOINS_REFUSED, Code=getattr(exc, "code", "error"))
                return response
        return result if isinstance(result, Response) else json_response(result)
    return handled


def json_response(body, status: int = 200) -> Response:
    return Response(body=to_json(body), status_code=status,
                    headers={"Content-Type": "application/json"})


def to_json(body) -> str:
    """``body`` as the API's compact JSON (datetimes, UUIDs and sets included)."""
    return json.dumps(body, default=_encode, separators=(",", ":"))


def _encode(value):
    if isinstance(value, datetime):  # UTC with Z, as views.iso writes every other time
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def created(body) -> Response:
    return json_response(body, 201)


def current_request() -> "ApiRequest":
    """The request this thread serves, its caller authenticated (``ApiError`` 401 if not)."""
    return ApiRequest(bootstrap.settings())


class ApiRequest:
    """The current request, seen through the edge: its authenticated caller, body and query."""

    def __init__(self, settings):
        self.settings = settings
        self.request = _request.get()
        self.principal: Principal = authenticate(self.request.headers, settings)

    @property
    def query(self) -> dict:
        return dict(self.request.query_params or {})

    def body(self, max_bytes: int | None = None) -> dict:
        return json_body(self.request.raw_body, max_bytes or self.settings.max_body_bytes)

    def admin(self) -> Principal:
        require_admin(self.principal)
        return self.principal

    def in_room(self, room_id: str) -> Principal:
        require_room(self.principal, room_id)
        return self.principal

    def participant(self, room_id: str) -> Principal:
        require_room(self.principal, room_id)
        if self.principal.is_admin:
            raise errors.forbidden("forbidden", "this call needs a participant token")
        return self.principal

    @property
    def actor(self) -> Actor:
        """The caller as the application's ``Actor``."""
        return self.principal.actor

    def mint(self, room_id: str, grant: dict) -> dict:
        token, exp = mint_participant_token(self.settings, self.principal.key_id,
                                            room_id=room_id, **grant)
        return {"token": token, "roomId": room_id, "identity": grant["identity"],
                "role": grant["role"], "expiresAt": datetime.fromtimestamp(exp, timezone.utc)}
