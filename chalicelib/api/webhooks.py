"""Routes of webhook endpoints (admin tokens), as a Blueprint (docs/api.md, "Webhooks").

Each route parses, calls one ``WebhooksApplication`` method and returns its answer; the
secret appears only in the answer to ``POST /webhooks``.
"""
from __future__ import annotations

from chalice import Blueprint

from .. import bootstrap
from ..domain.events import RoomCreated, RoomEvent
from ..domain.webhooks import URL_MAX
from .fields import Fields, invalid, known_query, query_int
from .http import created, current_request, json_view

webhooks = Blueprint(__name__)
ROOM_EVENT_TYPES = frozenset(
    [RoomCreated.__name__] + [c.__name__ for c in RoomEvent.__subclasses__()])
MAX_LIST, ROOM_ID_MAX, DELIVERIES_MAX = 100, 128, 100
KEEP_PREVIOUS_MAX = 7 * 24 * 3600  # a rotated secret signs at most a week longer, as Stripe's


def route(path: str, method: str):
    def register(view):
        return webhooks.route(path, methods=[method])(json_view(view))
    return register


def _strings(f: Fields, name: str, allowed=None) -> list[str] | None:
    value = f.value(name)
    if value is None:
        return None
    if (not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST
            or not all(isinstance(v, str) and 0 < len(v) <= ROOM_ID_MAX for v in value)):
        raise invalid(name, f"a list of 1 to {MAX_LIST} non-empty strings")
    unknown = sorted(set(value) - allowed) if allowed is not None else []
    if unknown:
        raise invalid(name, f"unknown event type {unknown[0]} (see docs/rooms.md, or \"*\")")
    return list(dict.fromkeys(value))


def registration(body: dict) -> dict:
    f = Fields(body)
    args = dict(url=f.text("url", required=True, max_len=URL_MAX),
                events=_strings(f, "events", ROOM_EVENT_TYPES | {"*"}) or ["*"],
                rooms=_strings(f, "rooms"))
    room = f.text("roomId", max_len=ROOM_ID_MAX)  # the one-room form
    f.done()
    if room is not None:
        if args["rooms"] is not None:
            raise invalid("roomId", "give rooms or roomId, not both")
        args["rooms"] = [room]
    return args


@route("/webhooks", "POST")
def register():
    request = current_request()
    request.admin()
    return created(bootstrap.webhooks().register(request.actor, **registration(request.body()),
                                                 now=bootstrap.now()))


@route("/webhooks", "GET")
def list_webhooks():
    current_request().admin()
    return {"webhooks": bootstrap.webhooks().list_webhooks()}


@route("/webhooks/{webhookId}", "GET")
def get_webhook(webhookId):
    current_request().admin()
    return bootstrap.webhooks().get_webhook(webhookId)


@route("/webhooks/{webhookId}", "DELETE")
def delete_webhook(webhookId):
    request = current_request()
    request.admin()
    return bootstrap.webhooks().delete_webhook(request.actor, webhookId, bootstrap.now())


@route("/webhooks/{webhookId}/rotate-secret", "POST")
def rotate_secret(webhookId):
    request = current_request()
    request.admin()
    f = Fields(request.body())
    keep = f.integer("keepPreviousFor", lo=0, hi=KEEP_PREVIOUS_MAX, default=0)
    f.done()
    return bootstrap.webhooks().rotate_secret(request.actor, webhookId, keep_previous_for=keep,
                                              now=bootstrap.now())


@route("/webhooks/{webhookId}/deliveries", "GET")
def deliveries(webhookId):
    request = current_request()
    request.admin()
    known_query(request.query, {"limit"})
    limit = query_int(request.query, "limit", lo=1, hi=DELIVERIES_MAX, default=20)
    return {"deliveries": bootstrap.webhooks().deliveries(webhookId, limit)}
