"""HttpControlPlane speaks the contract of docs/architecture.md to a real HTTP server.

The server here stands in for the control plane's routes (its own tests cover them);
this checks the node's side: node tokens, heartbeat body, long-poll resume, leaves.
"""
from __future__ import annotations

import asyncio
import contextlib

import jwt
import pytest
from aiohttp import web

from media_node.control.client import HttpControlPlane

from .helpers import run, wait_for

SECRET = "control-plane-secret-0123456789abcdef"
pytestmark = pytest.mark.media


class ControlPlaneRoutes:
    def __init__(self) -> None:
        self.heartbeats: list[dict] = []
        self.polls: list[str] = []
        self.leaves: list[tuple[str, str, dict]] = []
        self.issuers: set[str] = set()
        self.fail_leaves = 1
        self.events = [{"seq": 1, "type": "ParticipantMuted", "participantId": "p", "audio": True},
                       {"seq": 2, "type": "ParticipantKicked", "participantId": "q"}]

    def _auth(self, request: web.Request) -> None:
        token = request.headers["Authorization"].split()[1]
        self.issuers.add(jwt.decode(token, SECRET, algorithms=["HS256"])["iss"])

    async def heartbeat(self, request):
        self._auth(request)
        self.heartbeats.append(await request.json())
        return web.json_response({"ok": True})

    async def events_feed(self, request):
        self._auth(request)
        after = int(request.query["after"])
        self.polls.append(request.query["after"])
        batch = [e for e in self.events if e["seq"] > after]
        if not batch:
            await asyncio.sleep(0.2)
        return web.json_response({"events": batch})

    async def disconnected(self, request):
        self._auth(request)
        if self.fail_leaves:
            self.fail_leaves -= 1
            return web.json_response({"error": {"code": "busy", "message": "busy"}}, status=503)
        self.leaves.append((request.match_info["room"], request.match_info["pid"],
                            await request.json()))
        return web.json_response({}, status=202)


@contextlib.asynccontextmanager
async def control_plane_routes(routes: ControlPlaneRoutes, extra=()):
    """``routes`` served on 127.0.0.1 as the control plane's node-facing routes, with
    ``extra`` ``(method, path, handler)`` s."""
    app = web.Application()
    for method, path, handler in extra:
        app.router.add_route(method, path, handler)
    app.router.add_post("/nodes/{node}/heartbeat", routes.heartbeat)
    app.router.add_get("/rooms/{room}/events", routes.events_feed)
    app.router.add_post("/rooms/{room}/participants/{pid}/disconnected", routes.disconnected)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    routes.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    try:
        yield routes
    finally:
        await runner.cleanup()


def test_heartbeat_events_feed_and_leave_report():
    applied: list[tuple[str, dict]] = []

    async def apply(room_id, event):
        applied.append((room_id, event))

    async def scenario():
        async with control_plane_routes(ControlPlaneRoutes()) as routes:
            plane = HttpControlPlane(routes.url, "n1", SECRET, "http://127.0.0.1:8100",
                                     capacity=64, interval=0.1, wait=1)
            try:
                await plane.start(lambda: {"rooms": 1, "participants": 2, "streams": 3})
                plane.watch_room("room-1", apply)
                assert await wait_for(lambda: len(applied) == 2 and len(routes.heartbeats) >= 2)
                assert [e["seq"] for _, e in applied] == [1, 2]
                assert await wait_for(lambda: routes.polls.count("2") >= 1)  # resumes after 2
                assert routes.polls[0] == "0"
                beat = routes.heartbeats[0]
                assert beat["url"] == "http://127.0.0.1:8100" and beat["capacity"] == 64
                assert (beat["rooms"], beat["participants"], beat["streams"]) == (1, 2, 3)
                await plane.report_disconnected("room-1", "p", "connection_failed")  # retried
                assert routes.leaves == [("room-1", "p", {"reason": "connection_failed"})]
                assert routes.issuers == {"node:n1"}
            finally:
                await plane.close()

    run(scenario())


class RecordingRoutes(ControlPlaneRoutes):
    """The two recording routes of the contract: a destination, and reports (the first
    two refused with 503, as an overloaded control plane would)."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[tuple[str, str, dict]] = []
        self.fail_reports = 2

    async def destination(self, request):
        self._auth(request)
        return web.json_response({"type": "s3", "bucket": "b", "prefix": "p", "sealed": "x"})

    async def report(self, request):
        self._auth(request)
        if self.fail_reports:
            self.fail_reports -= 1
            return web.json_response({"error": {"code": "busy", "message": "busy"}}, status=503)
        self.reports.append((request.match_info["room"], request.match_info["rec"],
                             await request.json()))
        return web.json_response({}, status=202)


def test_recording_destination_and_reports_retried_with_backoff():
    async def scenario():
        routes = RecordingRoutes()
        app_routes = [("GET", "/rooms/{room}/recordings/{rec}/destination", routes.destination),
                      ("POST", "/rooms/{room}/recordings/{rec}/report", routes.report)]
        async with control_plane_routes(routes, app_routes) as routes:
            plane = HttpControlPlane(routes.url, "n1", SECRET, "http://127.0.0.1:8100",
                                     capacity=64, report_delay=0.05)
            try:
                destination = await plane.recording_destination("room-1", "rec-1")
                assert destination["type"] == "s3" and destination["sealed"] == "x"
                await plane.report_recording("room-1", "rec-1", {"event": "recording"})
                assert routes.reports == [("room-1", "rec-1", {"event": "recording"})]
                assert routes.issuers == {"node:n1"}
            finally:
                await plane.close()

    run(scenario())
