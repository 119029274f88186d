"""The local stack of the real-time socket for tests: ``devstack.local_api`` (HTTP) and
``devstack.ws_gateway`` (WebSocket and the stream poller) on the embedded DynamoDB, each
on a free 127.0.0.1 port and stopped by its pid."""
from __future__ import annotations

import json
import secrets
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager

from websockets.sync.client import connect

from chalicelib.api.auth import mint_admin_token
from devstack.process import ROOT, ServerProcess, free_port
from tests.integration.api_support import store_env

KEY, SECRET = "rt-key", "rt-secret-" + "y" * 24
TIMEOUT = 30  # a safety net against a hang, never a measurement


class Stack:
    def __init__(self, dynamodb_endpoint: str, logs, env: dict | None = None):
        self.env = {**store_env(dynamodb_endpoint), "DROPON_API_KEY": KEY,
                    "DROPON_API_SECRET": SECRET, "DROPON_NODE_SECRET": secrets.token_hex(16),
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        api_port, ws_port = free_port(), free_port()
        self.api_url, self.ws_url = f"http://127.0.0.1:{api_port}", f"ws://127.0.0.1:{ws_port}"
        self.api = ServerProcess([sys.executable, "-m", "devstack.local_api", "--host",
                                  "127.0.0.1", "--port", str(api_port)], api_port, cwd=ROOT,
                                 env=self.env, log_path=logs / "api.log")
        self.gateway = ServerProcess([sys.executable, "-m", "devstack.ws_gateway", "--host",
                                      "127.0.0.1", "--port", str(ws_port)], ws_port, cwd=ROOT,
                                     env=self.env, log_path=logs / "gateway.log")

    def start(self) -> "Stack":
        from chalicelib import bootstrap
        bootstrap.build_application(self.env)  # the tables now, as make run does
        bootstrap.build_connections(self.env)
        self.api.start()
        self.gateway.start()
        return self

    def stop(self) -> None:
        self.gateway.stop()
        self.api.stop()

    def call(self, method: str, path: str, body=None, token: str | None = None):
        token = token or mint_admin_token(KEY, SECRET, 300)
        request = urllib.request.Request(
            self.api_url + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(self, method: str, path: str, body=None, token: str | None = None):
        status, data = self.call(method, path, body, token)
        assert status in (200, 201), (status, data)
        return data

    def room(self, **policy) -> str:
        return self.ok("POST", "/rooms", {"name": "rt", "persistent": True,
                                          **({"policy": policy} if policy else {})})["id"]

    def token(self, room_id: str, identity: str, role: str = "speaker") -> str:
        return self.ok("POST", f"/rooms/{room_id}/tokens",
                       {"identity": identity, "role": role})["token"]

    @contextmanager
    def socket(self, room_id: str, token: str, after: int | None = None):
        query = f"?roomId={room_id}&token={token}" + ("" if after is None else f"&after={after}")
        with connect(self.ws_url + query, open_timeout=TIMEOUT) as ws:
            yield Reader(ws)


class Reader:
    """A socket's messages, read one at a time."""

    def __init__(self, ws):
        self.ws = ws
        self.seen: list[dict] = []

    def next(self) -> dict:
        message = json.loads(self.ws.recv(timeout=TIMEOUT))
        self.seen.append(message)
        return message

    def until(self, kind: str, **data) -> dict:
        """Messages up to the first of type ``kind`` whose data has ``data``."""
        while True:
            message = self.next()
            if message["type"] == kind and all(message.get("data", {}).get(k) == v
                                               for k, v in data.items()):
                return message

    def send(self, body: dict) -> None:
        self.ws.send(json.dumps(body))

    def reply(self, action: str, **extra) -> dict:
        """Send a command; the first ``REPLY`` or ``ERROR`` with its requestId."""
        request_id = secrets.token_hex(4)
        self.send({"action": action, "requestId": request_id, **extra})
        while True:
            message = self.next()
            if message["type"] in ("REPLY", "ERROR") and message["requestId"] == request_id:
                return message
