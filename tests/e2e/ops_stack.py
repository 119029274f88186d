"""The whole system as an operator runs it, for the operability tests: the control plane
(``devstack.local_api``), the tick, the webhook deliverer and the WebSocket gateway with
its stream poller, each a process on the embedded DynamoDB, media nodes as
``python -m media_node``, a customer's bucket (moto's S3) and a webhook receiver on
127.0.0.1. Every process writes its log to a file of its own; every secret the run
hands out is kept in :attr:`OpsStack.secrets`, so a test can look for each in the logs.
"""
from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import uuid4

from cryptography.fernet import Fernet

from chalicelib.api.auth import mint_admin_token
from devstack.process import ROOT, ServerProcess, free_port, popen
from tests.e2e.system import System


class WebhookReceiver:
    """An HTTP endpoint on 127.0.0.1 that keeps every delivery's headers and body."""

    def __init__(self) -> None:
        got = self.deliveries = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                got.append((dict(self.headers),
                            self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Worker:
    """``python -m <module>`` with no port to wait for, stopped by its pid."""

    def __init__(self, argv: list[str], env: dict, log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = popen([sys.executable, "-m", *argv], cwd=ROOT, env=env, stdout=out,
                              stderr=out)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


class OpsStack(System):
    """:class:`~tests.e2e.system.System` with the run's secrets, its other processes and
    its logs; one admin token for the whole run, so that the logs can be searched for it."""

    def __init__(self, logs: Path, env: dict) -> None:
        super().__init__("", env["DROPON_API_KEY"], env["DROPON_API_SECRET"],
                         env["DROPON_NODE_SECRET"], logs, env, None)
        self.processes: list = []
        self.secrets: dict = {}  # what -> value; none may reach a log

    def admin_token(self) -> str:
        if "admin token" not in self.secrets:
            self.secrets["admin token"] = mint_admin_token(self.key, self.secret, 900)
        return self.secrets["admin token"]

    def participant(self, room: str, identity: str, role: str) -> str:
        token = self.ok("POST", f"/rooms/{room}/tokens",
                        {"identity": identity, "role": role})["token"]
        self.secrets[f"participant token of {identity}"] = token
        return token

    def join(self, room: str, token: str) -> dict:
        joined = self.ok("POST", f"/rooms/{room}/join", token=token)
        if joined.get("media"):
            self.secrets[f"media token of {joined['identity']}"] = joined["media"]["token"]
        return joined

    def terminate_node(self, node_id: str, timeout: float = 90) -> int:
        """SIGTERM, as ECS sends it; the exit status once the node is gone."""
        process = self.nodes[node_id][0].proc
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout)

    def stop(self) -> None:
        for process, _ in self.nodes.values():
            process.stop()
        for process in reversed(self.processes):
            process.stop()

    def log_lines(self) -> dict[str, list[str]]:
        return {p.name: p.read_text(errors="replace").splitlines()
                for p in sorted(self.logs.glob("*.log"))}


def start_ops_stack(dynamodb_endpoint: str, logs: Path) -> OpsStack:
    """The control plane's processes; nodes are started by the test."""
    env = {**os.environ, "PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb",
           "DYNAMODB_TABLE_PREFIX": f"ops{uuid4().hex[:8]}", "CREATE_TABLE": "y",
           "AWS_ENDPOINT_URL": dynamodb_endpoint, "AWS_REGION": "us-east-1",
           "DROPON_API_KEY": "ops-key", "DROPON_API_SECRET": secrets.token_urlsafe(32),
           "DROPON_NODE_SECRET": secrets.token_urlsafe(32),
           "DROPON_SECRETS_KEY": Fernet.generate_key().decode(),
           "DROPON_WEBHOOK_KEY": Fernet.generate_key().decode(),
           "DROPON_WEBHOOKS_ALLOW_PRIVATE": "1", "DROPON_WEBHOOK_RUN_SECONDS": "20",
           "DROPON_NODE_DEAD_AFTER": "5", "PYTHONUNBUFFERED": "1"}
    stack = OpsStack(logs, env)
    stack.secrets.update({name: env[name] for name in (
        "DROPON_API_SECRET", "DROPON_NODE_SECRET", "DROPON_SECRETS_KEY", "DROPON_WEBHOOK_KEY")})
    from chalicelib import bootstrap
    from chalicelib.config import WebhookSettings
    bootstrap.build_application(env)  # the tables now, as make run does
    bootstrap.build_node_registry(env)
    bootstrap.build_destination_store(env)
    bootstrap.build_webhooks(env, WebhookSettings.from_env(env))
    bootstrap.build_connections(env)
    api_port, ws_port = free_port(), free_port()
    try:
        stack.processes.append(ServerProcess(
            [sys.executable, "-m", "devstack.local_api", "--host", "127.0.0.1", "--port",
             str(api_port)], api_port, cwd=ROOT, env=env, log_path=logs / "api.log").start())
        stack.api_url = f"http://127.0.0.1:{api_port}"
        stack.api_process = stack.processes[0]
        stack.processes.append(ServerProcess(
            [sys.executable, "-m", "devstack.ws_gateway", "--host", "127.0.0.1", "--port",
             str(ws_port)], ws_port, cwd=ROOT, env=env, log_path=logs / "ws-gateway.log").start())
        stack.processes.append(Worker(["devstack.ticker", "--interval", "1"], env,
                                      logs / "ticker.log"))
        stack.processes.append(Worker(["devstack.webhooks"], env, logs / "webhooks.log"))
    except Exception:
        stack.stop()
        raise
    return stack
