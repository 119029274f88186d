"""The whole system for end-to-end tests: the control plane as ``chalice local`` (devstack.local_api) on
the embedded DynamoDB, one ``python -m media_node`` registered with it, the demo page served
from 127.0.0.1, and an event loop thread for aiortc peers. Each is stopped by its pid
(or by its own shutdown) by whoever started it.
"""
from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import uuid4

from chalicelib.api.auth import mint_admin_token
from devstack.process import ROOT, ServerProcess, free_port

STATIC = Path(__file__).with_name("static")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 "--allow-loopback-in-peer-connection",
                 "--disable-features=WebRtcHideLocalIpsWithMdns"]


@dataclass
class System:
    api_url: str
    key: str
    secret: str
    node_secret: str
    logs: Path
    env: dict
    api_process: ServerProcess
    nodes: dict = field(default_factory=dict)  # node id -> (ServerProcess, public URL)
    services: list = field(default_factory=list)  # more ServerProcesses, stopped first

    @property
    def node_id(self) -> str:
        return next(iter(self.nodes))

    @property
    def node_url(self) -> str:
        return self.nodes[self.node_id][1]

    def start_node(self, node_id: str) -> str:
        """``python -m media_node`` registered with this control plane; returns its URL."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = ServerProcess([sys.executable, "-m", "media_node"], port, cwd=ROOT, env={
            **self.env, "DROPON_CONTROL_URL": self.api_url, "DROPON_NODE_ID": node_id,
            "DROPON_NODE_PORT": str(port), "DROPON_NODE_PUBLIC_URL": url,
            "DROPON_ICE_LOOPBACK_ONLY": "1", "DROPON_HEARTBEAT_INTERVAL": "1"},
            log_path=self.logs / f"{node_id}.log")
        self.nodes[node_id] = (process.start(), url)
        wait_until(lambda: self.node(node_id).get("healthy"), 30,
                   what=f"{node_id}'s first heartbeat")
        return url

    def serve_sockets_and_web(self) -> tuple[str, str]:
        """The room socket (``devstack.ws_gateway`` with its stream poller) and the web
        app (``devstack.web``) for this control plane, as ``make run`` has them; returns
        their URLs."""
        from chalicelib import bootstrap
        bootstrap.build_connections(self.env)  # the sockets' table, as make run makes it
        ws_port, web_port = free_port(), free_port()
        ws_url = f"ws://127.0.0.1:{ws_port}"
        for module, port, env in (("devstack.ws_gateway", ws_port, self.env),
                                  ("devstack.web", web_port, {**self.env, "DROPON_WS_URL": ws_url,
                                                              "DROPON_CONTROL_URL": self.api_url})):
            self.services.append(ServerProcess(
                [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port)],
                port, cwd=ROOT, env=env, log_path=self.logs / f"{module}.log").start())
        return ws_url, f"http://127.0.0.1:{web_port}"

    def stop(self) -> None:
        for process in self.services:
            process.stop()
        for process, _ in self.nodes.values():
            process.stop()
        self.api_process.stop()

    def control_plane_down(self):
        """Stop ``chalice local`` (the store stays); ``start()`` the result to bring it back."""
        self.api_process.stop()
        return self.api_process

    def admin_token(self) -> str:
        return mint_admin_token(self.key, self.secret, 300)

    def call(self, method: str, path: str, body=None, token: str | None = None):
        """One JSON request to the control plane; ``(status, body)``."""
        token = token or self.admin_token()
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.api_url + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def ok(self, method: str, path: str, body=None, token: str | None = None):
        status, data = self.call(method, path, body, token)
        assert status in (200, 201), (method, path, status, data)
        return data

    def grant(self, room_id: str, identity: str, role: str) -> str:
        return self.ok("POST", f"/rooms/{room_id}/tokens",
                       {"identity": identity, "role": role})["token"]

    def node(self, node_id: str | None = None) -> dict:
        node_id = node_id or self.node_id
        nodes = self.ok("GET", "/nodes")["nodes"]
        return next((n for n in nodes if n["nodeId"] == node_id), {})


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.2, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(interval)


def start_system(dynamodb_endpoint: str, logs: Path, **extra_env: str):
    """Start the control plane and one node (both with ``extra_env`` too); returns
    ``(System, stop)``."""
    key, secret, node_secret = "e2e-key", secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    env = {**os.environ, "PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb",
           "DYNAMODB_TABLE_PREFIX": f"e2e{uuid4().hex[:8]}", "CREATE_TABLE": "y",
           "AWS_ENDPOINT_URL": dynamodb_endpoint, "AWS_REGION": "us-east-1",
           "DROPON_API_KEY": key, "DROPON_API_SECRET": secret,
           "DROPON_NODE_SECRET": node_secret, "PYTHONUNBUFFERED": "1",
           # a short death, so that a test sees a room move within seconds
           "DROPON_NODE_DEAD_AFTER": "5", **extra_env}
    # tables now, as make run does, so that no request waits for them
    from chalicelib import bootstrap
    bootstrap.build_application(env)
    bootstrap.build_node_registry(env)
    api_port = free_port()
    # the same local server make run uses: chalice local with the API's error shape
    api = ServerProcess([sys.executable, "-m", "devstack.local_api", "--host", "127.0.0.1",
                         "--port", str(api_port)], api_port, cwd=ROOT, env=env,
                        log_path=logs / "chalice.log").start()
    system = System(f"http://127.0.0.1:{api_port}", key, secret, node_secret, logs, env, api)
    try:
        system.start_node("node-e2e")
    except Exception:
        system.stop()
        raise
    return system, system.stop


class StaticSite:
    """``tests/e2e/static`` over HTTP on 127.0.0.1 (a secure context for getUserMedia)."""

    def __init__(self):
        handler = functools.partial(_QuietHandler, directory=str(STATIC))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class LoopThread:
    """An asyncio loop in its own thread, so aiortc peers live beside sync Playwright."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
