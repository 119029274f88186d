"""WHIP/WHEP-style HTTP edge: parse, call the node once, map errors."""
from __future__ import annotations

import logging
from typing import Any, Protocol

from aiohttp import web

from ..errors import BadRequest, NodeError, Unauthorized, error_body
from ..telemetry import routes as telemetry
from .cors import cors_middleware

logger = logging.getLogger(__name__)


class SignalingNode(Protocol):
    """What the HTTP edge calls (:class:`~media_node.node.MediaNode`); the edge imports no
    node module, so the node's packages never depend back on signaling's edge."""

    config: Any  # NodeConfig: public_url, metrics_token
    control_plane: Any  # ControlPlane: start(stats), close(), reachable
    rooms: dict  # what /metrics counts
    sessions: dict
    recordings: Any
    draining: bool

    async def join(self, room_id: str, token: str, offer_sdp: str) -> tuple[Any, str]:
        """Admit a participant; ``(session, answer SDP)``."""

    async def leave(self, session_id: str, token: str) -> None:
        """The participant hung up."""

    def session(self, session_id: str, token: str) -> Any:
        """The session its own participant addresses."""

    async def start(self) -> None:
        """Once the control plane client runs (before the first request)."""

    def stats(self) -> dict:
        """Load figures for the heartbeat."""

    async def close(self) -> None:
        """Close every session (shutdown)."""


NODE_KEY = web.AppKey("node", SignalingNode)
MAX_SDP = 256 * 1024


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing_token", "Authorization: Bearer <media token> required")
    return token.strip()


async def _body(request: web.Request, content_type: str) -> str:
    if request.content_type != content_type:
        raise BadRequest("bad_content_type", f"expected {content_type}")
    if request.content_length and request.content_length > MAX_SDP:
        raise BadRequest("body_too_large", "SDP body too large")
    try:
        return (await request.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("bad_sdp", "body is not UTF-8") from None
    except web.HTTPRequestEntityTooLarge:
        raise BadRequest("body_too_large", "SDP body too large") from None


@web.middleware
async def errors_middleware(request: web.Request, handler):
    """The API's error shape, ``{"error": {"code", "message"}}`` with a stable ``code``;
    nothing escapes as a bare 500."""
    try:
        return await handler(request)
    except NodeError as exc:
        status = {"bad_content_type": 415, "body_too_large": 413}.get(exc.code, exc.status)
        return web.json_response(error_body(exc.code, exc.message), status=status)
    except web.HTTPException:
        raise
    except Exception:
        logger.exception("unexpected error on %s %s", request.method, request.path)
        return web.json_response(error_body("internal", "unexpected node error"), status=503)


async def post_offer(request: web.Request) -> web.Response:
    """``POST /rooms/{roomId}/whip``: an SDP offer in, 201 + answer + Location out."""
    node = request.app[NODE_KEY]
    token = _bearer(request)
    offer = await _body(request, "application/sdp")
    session, answer = await node.join(request.match_info["roomId"], token, offer)
    location = f"{node.config.public_url}/sessions/{session.id}"
    return web.Response(status=201, text=answer, content_type="application/sdp",
                        headers={"Location": location})


async def delete_session(request: web.Request) -> web.Response:
    """``DELETE /sessions/{sessionId}``: leave."""
    node = request.app[NODE_KEY]
    await node.leave(request.match_info["sessionId"], _bearer(request))
    return web.Response(status=200)


async def patch_session(request: web.Request) -> web.Response:
    """``PATCH /sessions/{sessionId}``: trickle ICE candidates."""
    node = request.app[NODE_KEY]
    session = node.session(request.match_info["sessionId"], _bearer(request))
    fragment = await _body(request, "application/trickle-ice-sdpfrag")
    await session.add_candidates(fragment)
    return web.Response(status=204)


def make_app(node: SignalingNode) -> web.Application:
    """The node's aiohttp application (signaling, and ``/health``, ``/ready``, ``/metrics``);
    closing it closes the node."""
    app = web.Application(middlewares=[telemetry.request_context, cors_middleware,
                                       errors_middleware], client_max_size=MAX_SDP)
    app[NODE_KEY] = node
    config = node.config
    telemetry.install(app, node, getattr(config, "metrics_token", ""),
                      stage=getattr(config, "stage", ""),
                      capacity=getattr(config, "max_participants", 0))
    app.router.add_post("/rooms/{roomId}/whip", post_offer)
    app.router.add_delete("/sessions/{sessionId}", delete_session)
    app.router.add_patch("/sessions/{sessionId}", patch_session)

    async def lifecycle(app: web.Application):
        await node.control_plane.start(node.stats)
        await node.start()
        yield
        await node.close()
        await node.control_plane.close()

    app.cleanup_ctx.append(lifecycle)
    return app
