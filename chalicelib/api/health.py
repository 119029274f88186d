"""``GET /health``: whether this API's event store answers, for load balancers and
uptime checks.

The one route without a token: a prober has none to give, and the answer says nothing
but ``{"ok": true}`` (200) or ``{"ok": false}`` (503) — no version, table or error
text, which go to the log instead. The probe is one consistent ``Query`` of the events
table for a room id no room has (``UUID(int=0)``): it reads nothing and costs one
read unit.
"""
from __future__ import annotations

import logging
from uuid import UUID

from chalice import Blueprint

from .. import bootstrap
from .http import blueprint_route, json_response

health = Blueprint(__name__)
route = blueprint_route(health)
log = logging.getLogger(__name__)
NO_ROOM = UUID(int=0)


@route("/health", "GET")
def store_health():
    try:
        bootstrap.application().recorder.select_events(NO_ROOM, limit=1)
    except Exception as exc:  # noqa: BLE001 - any failure is "not healthy"
        log.warning("health: the event store did not answer: %s", type(exc).__name__,
                    exc_info=exc)
        return json_response({"ok": False}, 503)
    return {"ok": True}
