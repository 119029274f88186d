"""``make run``'s stack, for real: the README's curl walk-through, the tick, a clean stop.

Starts ``python -m devstack.run`` (the embedded DynamoDB, tables, ``chalice local``, a media node,
the ticker, the webhook deliverer)
on a free port with its data in a temporary folder, runs the README's shell block
against it, and stops it with SIGINT as Ctrl-C would.
"""
from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from devstack.process import ROOT
from tests.local_stack import running_stack


def readme_walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if "curl" in b]
    assert blocks, "README.md has no ```sh walk-through with curl"
    return blocks[0]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


def request(stack, method, path, body=None, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{stack['port']}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


def admin_token(stack) -> str:
    return subprocess.run([sys.executable, "-m", "devstack.devkey"], cwd=ROOT, env=stack["env"],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_banner_prints_the_address_and_the_development_key(stack):
    out = (stack["data"] / "run.out").read_text()
    key = json.loads((stack["data"] / "dev-key.json").read_text())
    assert f"http://127.0.0.1:{stack['port']}" in out
    assert key["key"] in out and key["secret"] in out
    assert oct((stack["data"] / "dev-key.json").stat().st_mode & 0o777) == "0o600"


def test_readme_walkthrough_works(stack):
    script = readme_walkthrough().replace("127.0.0.1:8000", f"127.0.0.1:{stack['port']}")
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=ROOT,
                          env=stack["env"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    joined = json.loads(done.stdout[:done.stdout.index("}") + 1])
    assert joined["status"] == "joined" and joined["role"] == "host"
    types = [json.loads(line)["type"] for line in done.stdout.splitlines() if '"seq"' in line]
    assert types[0] == "RoomCreated" and "ParticipantJoined" in types


def test_the_ticker_closes_an_empty_room(stack):
    token = admin_token(stack)
    room = request(stack, "POST", "/rooms", {"name": "brief", "persistent": True, "policy": {
        "autoClose": {"emptyTimeoutSeconds": 1}}}, token)
    grant = request(stack, "POST", f"/rooms/{room['id']}/tokens",
                    {"identity": "bo", "role": "speaker"}, token)
    request(stack, "POST", f"/rooms/{room['id']}/join", {}, grant["token"])
    request(stack, "POST", f"/rooms/{room['id']}/leave", {}, grant["token"])
    deadline = time.monotonic() + 30
    state = request(stack, "GET", f"/rooms/{room['id']}", token=token)
    while state["status"] != "closed" and time.monotonic() < deadline:
        time.sleep(0.5)
        state = request(stack, "GET", f"/rooms/{room['id']}", token=token)
    assert state["status"] == "closed", state
    closer = [e for e in request(stack, "GET", f"/rooms/{room['id']}/events", token=token)["events"]
              if e["type"] == "RoomClosed"]
    assert closer[0]["actor"]["kind"] == "system"


def test_the_media_node_registers_and_sfu_joins_get_it(stack):
    token, node_url = admin_token(stack), f"http://127.0.0.1:{stack['env']['DROPON_NODE_PORT']}"
    assert node_url in (stack["data"] / "run.out").read_text()
    deadline = time.monotonic() + 30
    while not [n for n in request(stack, "GET", "/nodes", token=token)["nodes"] if n["healthy"]]:
        assert time.monotonic() < deadline, "the media node never sent a heartbeat"
        time.sleep(0.5)
    room = request(stack, "POST", "/rooms", {"name": "sfu", "persistent": True}, token)
    grant = request(stack, "POST", f"/rooms/{room['id']}/tokens",
                    {"identity": "cy", "role": "speaker"}, token)
    joined = request(stack, "POST", f"/rooms/{room['id']}/join", {}, grant["token"])
    assert joined["media"]["url"] == f"{node_url}/rooms/{room['id']}/whip", joined


def test_a_webhook_reaches_a_receiver_on_loopback_signed(stack):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from chalicelib.domain.signature import verify
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append((self.headers["DropOn-Signature"],
                        self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        token = admin_token(stack)
        hook = request(stack, "POST", "/webhooks", {
            "url": f"http://127.0.0.1:{server.server_port}/in", "events": ["RoomCreated"]}, token)
        room = request(stack, "POST", "/rooms", {"name": "hooked", "persistent": True}, token)
        deadline = time.monotonic() + 60
        while not any(json.loads(b)["roomId"] == room["id"] for _, b in got):
            assert time.monotonic() < deadline, "no delivery"
            time.sleep(0.2)
        header, body = next((h, b) for h, b in got if json.loads(b)["roomId"] == room["id"])
        assert verify(body, header, hook["secret"])["type"] == "RoomCreated"
    finally:
        server.shutdown()
        server.server_close()


def test_ctrl_c_stops_every_service(stack):
    proc, port = stack["proc"], stack["port"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(OSError):
        node_port = int(stack["env"]["DROPON_NODE_PORT"])
        socket.create_connection(("127.0.0.1", node_port), timeout=1).close()
    assert "stopping" in Path(stack["data"] / "run.out").read_text()
