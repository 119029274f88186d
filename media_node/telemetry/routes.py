"""``GET /health``, ``GET /ready`` and ``GET /metrics`` on the node's HTTP port.

``/health`` says the process serves HTTP (the container's health check). ``/ready``
says it can take rooms: the control plane took its last heartbeat and it is not
draining (503 otherwise, with the reason). Neither needs a token nor reveals more
than that. ``/metrics`` is Prometheus' text format; with ``DROPON_METRICS_TOKEN`` set
it wants ``Authorization: Bearer <that token>``. While it serves, a deployed node
(``stage`` given) also publishes ``DropOn/NodeLoad`` (:mod:`.load`).
"""
from __future__ import annotations

import asyncio
import hmac
import uuid

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .load import INTERVAL, publish_load
from .logs import bound_contextvars
from .metrics import LoopLag, ObservedNode, node_registry


@web.middleware
async def request_context(request: web.Request, handler):
    """Every line logged while serving a request carries its ``requestId`` (the caller's
    ``X-Request-Id`` or a new one) and ``roomId`` when the path names one."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
    context = {"requestId": request_id}
    if "roomId" in request.match_info:
        context["roomId"] = request.match_info["roomId"]
    with bound_contextvars(**context):
        response = await handler(request)
    response.headers.setdefault("X-Request-Id", request_id)
    return response


def install(app: web.Application, node: ObservedNode, metrics_token: str = "",
            stage: str = "", capacity: int = 0, load_interval: float = INTERVAL) -> None:
    """Add the three routes to ``app`` and run the event-loop lag probe while it serves,
    and the ``NodeLoad`` publisher when ``stage`` is set.

    :param capacity: participants the node carries at 100 % load.
    """
    lag = LoopLag()
    registry = node_registry(node, lag)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def ready(request: web.Request) -> web.Response:
        reason = ("draining" if node.draining else
                  None if getattr(node.control_plane, "reachable", True)
                  else "control_plane_unreachable")
        if reason:
            return web.json_response({"ready": False, "reason": reason}, status=503)
        return web.json_response({"ready": True})

    async def metrics(request: web.Request) -> web.Response:
        if metrics_token and not hmac.compare_digest(
                request.headers.get("Authorization", ""), f"Bearer {metrics_token}"):
            return web.json_response({"error": {"code": "unauthorized",
                                                "message": "metrics need their token"}},
                                     status=401)
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)

    async def probe(app: web.Application):
        tasks = [asyncio.ensure_future(lag.run())]
        if stage:
            tasks.append(asyncio.ensure_future(
                publish_load(lambda: len(node.sessions), capacity, stage, load_interval)))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    app.cleanup_ctx.append(probe)
