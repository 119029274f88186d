"""``make run``: the whole system on embedded defaults, on 127.0.0.1.

Services start in the order of ``SERVICES`` (the embedded DynamoDB, tables, ``chalice local``,
the WebSocket gateway with its stream poller, one media node, the ticker, the webhook
deliverer, the web app) and stop in reverse, each by its pid, on Ctrl-C or when one of them dies. To add one (a media node, say), write a function that
takes the ``Stack``, starts the service, adds what others need to ``stack.env`` and
returns something with ``stop()``; then append it to ``SERVICES``.
"""
from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass, field

from .devkey import DATA, load_or_create
from .dynamodb import embedded_dynamodb, endpoint
from .process import ROOT, ServerProcess, popen

LOGS = DATA / "logs"
API_PORT = int(os.environ.get("DROPON_API_PORT", "8000"))
TICK_SECONDS = float(os.environ.get("DROPON_TICK_SECONDS", "5"))
NODE_PORT = int(os.environ.get("DROPON_NODE_PORT", "8100"))
WS_PORT = int(os.environ.get("DROPON_WS_PORT", "8001"))
WEB_PORT = int(os.environ.get("DROPON_WEB_PORT", "8002"))
DYNAMODB_PORT = int(os.environ.get("DROPON_DYNAMODB_PORT", "0"))  # 0: any free port


@dataclass
class Stack:
    env: dict = field(default_factory=dict)  # what every service's process gets
    running: list = field(default_factory=list)  # (name, handle with stop()), in start order
    notes: list = field(default_factory=list)  # lines printed once everything is up

    def process(self, argv: list[str], port: int, log_name: str) -> ServerProcess:
        return ServerProcess(argv, port, cwd=ROOT, env=self.env, log_path=LOGS / log_name)


def dynamodb(stack: Stack):
    # moto made safe (devstack/dynamodb); every acknowledged write is journalled in .data
    server = embedded_dynamodb(port=DYNAMODB_PORT or None, data_dir=DATA / "dynamodb",
                               log_path=LOGS / "dynamodb.log").start()
    stack.env["AWS_ENDPOINT_URL"] = endpoint(server)
    stack.notes.append(f"DynamoDB        {endpoint(server)}  (embedded; data in {DATA / 'dynamodb'})")
    return server


def tables(stack: Stack):
    """Create the event store's, the node registry's and the webhooks' tables now, not on a
    first request."""
    os.environ.update(stack.env)
    from chalicelib import bootstrap
    bootstrap.build_application(stack.env)
    bootstrap.build_node_registry(stack.env)  # the media nodes' table
    bootstrap.build_destination_store(stack.env)  # the recording destinations' table
    from chalicelib.config import WebhookSettings
    bootstrap.build_webhooks(stack.env, WebhookSettings.from_env(stack.env))  # webhooks' tables
    bootstrap.build_connections(stack.env)  # the real-time sockets' table
    return None


def control_plane(stack: Stack):
    # chalice local's server with the API's error shape for unknown paths (devstack/local_api.py)
    server = stack.process([sys.executable, "-m", "devstack.local_api", "--host", "127.0.0.1",
                            "--port", str(API_PORT)], API_PORT, "chalice.log").start()
    stack.env["DROPON_CONTROL_URL"] = f"http://127.0.0.1:{API_PORT}"
    stack.notes.append(f"API             http://127.0.0.1:{API_PORT}  (log {LOGS / 'chalice.log'})")
    return server


def websocket_gateway(stack: Stack):
    # app.py's $connect/$default/$disconnect and stream handlers (chalice local has neither)
    server = stack.process([sys.executable, "-m", "devstack.ws_gateway", "--host", "127.0.0.1",
                            "--port", str(WS_PORT)], WS_PORT, "ws-gateway.log").start()
    stack.env["DROPON_WS_URL"] = f"ws://127.0.0.1:{WS_PORT}"
    stack.notes.append(f"Room events     ws://127.0.0.1:{WS_PORT}/?roomId=<id>&token=<jwt>  "
                       f"(WebSocket + stream poller; log {LOGS / 'ws-gateway.log'})")
    return server


class Worker:
    """A ``python -m <module>`` of ours in its own process, stopped by its pid."""

    def __init__(self, stack: Stack, module: str, args: list[str], log_name: str, note: str):
        import subprocess
        log = open(LOGS / log_name, "ab")
        self.proc = popen([sys.executable, "-m", module, *args], cwd=ROOT, env=stack.env,
                          stdout=log, stderr=subprocess.STDOUT)
        stack.notes.append(f"{note}  (log {LOGS / log_name})")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def ticker(stack: Stack) -> Worker:
    """``devstack.ticker``: the scheduled handler every few seconds."""
    return Worker(stack, "devstack.ticker", ["--interval", str(TICK_SECONDS)], "ticker.log",
                  f"Scheduler       tick every {TICK_SECONDS:g} s")


def webhooks(stack: Stack) -> Worker:
    """``devstack.webhooks``: the webhook deliverer, following the rooms' log."""
    private = "on" if stack.env.get("DROPON_WEBHOOKS_ALLOW_PRIVATE") == "1" else "off"
    return Worker(stack, "devstack.webhooks", [], "webhooks.log",
                  f"Webhooks        deliverer running (private addresses {private})")


def media_node(stack: Stack):
    """One media node (``python -m media_node``) on 127.0.0.1, ICE on loopback only."""
    env = stack.env
    env.setdefault("DROPON_NODE_ID", "node-1")
    env["DROPON_NODE_PORT"] = str(NODE_PORT)
    env["DROPON_NODE_PUBLIC_URL"] = f"http://127.0.0.1:{NODE_PORT}"
    env["DROPON_ICE_LOOPBACK_ONLY"] = "1"
    server = stack.process([sys.executable, "-m", "media_node"], NODE_PORT,
                           "media-node.log").start()
    stack.notes.append(f"Media node      {env['DROPON_NODE_PUBLIC_URL']}  ({env['DROPON_NODE_ID']}, "
                       f"ICE on 127.0.0.1 only; log {LOGS / 'media-node.log'})")
    return server


def web_app(stack: Stack):
    """``web/`` (the browser SDK and the web app) with a dev-only admin-token route."""
    server = stack.process([sys.executable, "-m", "devstack.web", "--host", "127.0.0.1",
                            "--port", str(WEB_PORT)], WEB_PORT, "web.log").start()
    stack.notes.append(f"Web app         http://127.0.0.1:{WEB_PORT}/  (open it in Chromium; "
                       f"log {LOGS / 'web.log'})")
    return server


SERVICES = [("dynamodb", dynamodb), ("tables", tables), ("api", control_plane),
            ("ws-gateway", websocket_gateway), ("media-node", media_node), ("ticker", ticker),
            ("webhooks", webhooks), ("web", web_app)]


def base_env() -> dict:
    key = load_or_create()
    env = {**os.environ,
           "PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb",
           "DYNAMODB_TABLE_PREFIX": os.environ.get("DYNAMODB_TABLE_PREFIX", "dropon"),
           "CREATE_TABLE": "y",
           "DROPON_API_KEY": key["key"], "DROPON_API_SECRET": key["secret"],
           "DROPON_NODE_SECRET": key["nodeSecret"], "DROPON_SECRETS_KEY": key["secretsKey"],
           "DROPON_WEBHOOK_KEY": key["webhookKey"],
           # local receivers live on 127.0.0.1: allowed here, refused by default elsewhere
           "DROPON_WEBHOOKS_ALLOW_PRIVATE": os.environ.get("DROPON_WEBHOOKS_ALLOW_PRIVATE", "1"),
           "DROPON_ICE_LOOPBACK_ONLY": "1", "PYTHONUNBUFFERED": "1"}
    # a local stack never reaches an AWS account: dummy credentials, a fixed region
    env.setdefault("AWS_ACCESS_KEY_ID", "local")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.pop("AWS_PROFILE", None)
    return env


def alive(handle) -> bool:
    if hasattr(handle, "alive"):
        return handle.alive()
    proc = getattr(handle, "proc", None)
    return proc is None or proc.poll() is None


def stop_all(stack: Stack) -> None:
    for name, handle in reversed(stack.running):
        try:
            handle.stop()
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            print(f"stopping {name}: {exc}", file=sys.stderr)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    stack = Stack(env=base_env())
    # Ctrl-C and SIGTERM both stop the stack (SIGINT may arrive ignored when started in
    # the background, so install the handler rather than trust the default)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for name, start in SERVICES:
            print(f"starting {name} ...", flush=True)
            handle = start(stack)
            if handle is not None:
                stack.running.append((name, handle))
        print_banner(stack)
        while all(alive(h) for _, h in stack.running):
            time.sleep(1)
        dead = [n for n, h in stack.running if not alive(h)]
        print(f"{', '.join(dead)} stopped; see {LOGS}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping ...", flush=True)
        stop_all(stack)


def export_line(env: dict) -> str:
    """The ``export`` line that configures ``dropon.Client.from_env()`` and the CLI."""
    names = ("DROPON_API_URL", "DROPON_WS_URL", "DROPON_API_KEY", "DROPON_API_SECRET")
    values = {**env, "DROPON_API_URL": env["DROPON_CONTROL_URL"]}  # this stack's, always
    return "export " + " ".join(f"{name}={shlex.quote(values[name])}" for name in names)


def print_banner(stack: Stack) -> None:
    env = stack.env
    print("\nDropOnAir Rooms is running. Ctrl-C stops everything.\n")
    for line in stack.notes:
        print("  " + line)
    print(f"\n  API key id      {env['DROPON_API_KEY']}")
    print(f"  API secret      {env['DROPON_API_SECRET']}   (development only; {DATA / 'dev-key.json'})")
    print("\n  For the Python SDK and the dropon CLI (sdk/python; README.md):")
    print("    " + export_line(env))
    print("\n  An admin token (1 h) for curl:")
    print("    export TOKEN=$(.venv/bin/python -m devstack.devkey)")
    print(f"    curl -s -H \"Authorization: Bearer $TOKEN\" {env['DROPON_CONTROL_URL']}/rooms\n",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
