"""A real ``python -m devstack.local_api`` process on the embedded DynamoDB, and raw HTTP to it.

What ``make run`` starts, on a free 127.0.0.1 port, with fresh tables, an API key and
sealing keys of its own (webhooks to private addresses allowed, as there); stopped by
its pid. ``raw`` speaks HTTP/1.1 over a plain socket, so a test
sees exactly what went over the wire (any method, no client library in between).
"""
from __future__ import annotations

import json
import os
import socket
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from chalicelib.api.auth import mint_admin_token
from devstack.process import ROOT, ServerProcess, free_port
from tests.integration.api_support import store_env

KEY, SECRET, NODE_SECRET = "local-key", "local-secret-" + "z" * 24, "local-node-" + "n" * 24


@dataclass
class LocalApi:
    url: str
    port: int
    server: ServerProcess
    log: Path
    env: dict

    def admin(self, ttl: int = 600) -> str:
        return mint_admin_token(KEY, SECRET, ttl)

    def call(self, method: str, path: str, body=None, token: str | None = None,
             headers: dict | None = None) -> tuple[int, dict, bytes]:
        """One request on its own connection: ``(status, headers, body bytes)``."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        payload = json.dumps(body).encode() if body is not None else b""
        return raw(self.port, method, path, sent, payload)

    def ok(self, method: str, path: str, body=None, token: str | None = None) -> dict:
        status, _, data = self.call(method, path, body, token or self.admin())
        assert status in (200, 201), (method, path, status, data)
        return json.loads(data)


@contextmanager
def local_api(dynamodb_endpoint: str, log_dir: Path, **env: str):
    """Start the server; yield a :class:`LocalApi`; stop it by its pid."""
    port = free_port()
    env = {**os.environ, **store_env(dynamodb_endpoint), "DROPON_API_KEY": KEY,
           "DROPON_API_SECRET": SECRET, "DROPON_NODE_SECRET": NODE_SECRET,
           "DROPON_SECRETS_KEY": Fernet.generate_key().decode(),
           "DROPON_WEBHOOK_KEY": Fernet.generate_key().decode(),
           "DROPON_WEBHOOKS_ALLOW_PRIVATE": "1", **env}
    # the tables now, as make run does, so that no first request waits for them
    from chalicelib import bootstrap
    from chalicelib.config import WebhookSettings
    bootstrap.build_application(env)
    bootstrap.build_node_registry(env)
    bootstrap.build_destination_store(env)
    bootstrap.build_webhooks(env, WebhookSettings.from_env(env))
    log = log_dir / "local-api.log"
    server = ServerProcess([sys.executable, "-m", "devstack.local_api", "--host", "127.0.0.1",
                            "--port", str(port)], port, cwd=ROOT, env=env, log_path=log).start()
    try:
        yield LocalApi(f"http://127.0.0.1:{port}", port, server, log, env)
    finally:
        server.stop()


def raw(port: int, method: str, path: str, headers: dict | None = None, body: bytes = b"",
        timeout: float = 60.0) -> tuple[int, dict, bytes]:
    """Send one request (``Connection: close``) and read the whole answer."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body, timeout)


def exchange(port: int, request: bytes, timeout: float = 60.0) -> tuple[int, dict, bytes]:
    """Write ``request`` as it is, read until the server closes: ``(status, headers, body)``
    (header names in lower case)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, content = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("iso-8859-1").split("\r\n")
    received = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        received[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), received, content
