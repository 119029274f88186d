"""Webhooks end to end: the API on the embedded DynamoDB, the deliverer as its own process
(``python -m devstack.webhooks``, as ``make run`` starts it) and a real HTTP receiver on
127.0.0.1. The deliverer is started and stopped (or killed) by its pid."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.fernet import Fernet

from chalicelib import bootstrap
from chalicelib.application import Actor
from chalicelib.config import WebhookSettings
from chalicelib.domain.signature import SignatureError, sign, verify
from devstack.process import ROOT, popen
from tests.integration.api_support import Api, store_env, wait_until

ADMIN = Actor("api_key", "test")
KEY = Fernet.generate_key().decode()
DELIVERED_WITHIN = 120  # seconds: a guard against a hang, not a measurement


class Receiver:
    """A webhook receiver on 127.0.0.1; ``fail_every`` > 0 answers 500 to every n-th POST."""

    def __init__(self, fail_every: int = 0):
        self.fail_every, self.requests, self.lock = fail_every, [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    n = len(receiver.requests) + 1
                    ok = not (receiver.fail_every and n % receiver.fail_every == 0)
                    receiver.requests.append((dict(self.headers), body, ok))
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def acked(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _, body, ok in self.requests if ok]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Deliverer:
    """``python -m devstack.webhooks`` on the test's tables."""

    def __init__(self, env: dict, tmp_path):
        self.env = {**os.environ, **env, "DROPON_WEBHOOK_KEY": KEY,
                    "DROPON_WEBHOOK_RETRY_BASE": "0.05", "DROPON_WEBHOOK_RETRY_CAP": "0.2",
                    "DROPON_WEBHOOK_POLL": "0.05", "DROPON_WEBHOOK_RUN_SECONDS": "5",
                    "PYTHONUNBUFFERED": "1"}
        self.log = tmp_path / "deliverer.log"
        self.proc = None

    def start(self, allow_private: bool = True) -> "Deliverer":
        env = {**self.env, "DROPON_WEBHOOKS_ALLOW_PRIVATE": "1" if allow_private else "0"}
        self.proc = popen([sys.executable, "-m", "devstack.webhooks"], cwd=ROOT, env=env,
                          stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        return self

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def stack(dynamodb_endpoint, tmp_path):
    env = store_env(dynamodb_endpoint)
    api = Api(env, store_env=env)
    bootstrap.configure(webhook_settings=WebhookSettings(key=KEY, allow_private=True))
    receiver, deliverer = Receiver(), Deliverer(env, tmp_path)
    yield api, receiver, deliverer
    deliverer.stop()
    receiver.close()
    api.close()


def register(api, receiver, **fields) -> dict:
    return api.ok("POST", "/webhooks", {"url": receiver.url, **fields}, status=201)


def make_events(api, rooms: int, changes: int) -> dict[str, int]:
    """``rooms`` rooms with ``changes`` policy changes each; room id -> its last seq."""
    last = {}
    for _ in range(rooms):
        room = api.create_room()
        for i in range(changes):
            api.ok("PATCH", f"/rooms/{room['id']}/policy", {"maxParticipants": 10 + i})
        last[room["id"]] = 1 + changes
    return last


def delivered_all(receiver, last: dict[str, int]) -> bool:
    seen = {(d["roomId"], d["seq"]) for d in receiver.acked()}
    return all((room, seq) in seen for room, last_seq in last.items()
               for seq in range(1, last_seq + 1))


def seqs_by_room(receiver) -> dict[str, list[int]]:
    rooms: dict[str, list[int]] = {}
    for d in receiver.acked():
        rooms.setdefault(d["roomId"], []).append(d["seq"])
    return rooms


def test_deliveries_are_signed_with_the_secret_shown_at_creation(stack):
    api, receiver, deliverer = stack
    secret = register(api, receiver)["secret"]
    last = make_events(api, 1, 1)
    deliverer.start()
    assert wait_until(lambda: delivered_all(receiver, last), DELIVERED_WITHIN), deliverer.log.read_text()
    headers, body, _ = receiver.requests[0]
    header = headers["DropOn-Signature"]
    event = verify(body, header, secret)
    assert event["type"] == "RoomCreated" and headers["DropOn-Delivery-Id"] == event["id"]
    assert set(event) == {"id", "type", "roomId", "seq", "time", "data"}
    with pytest.raises(SignatureError):
        verify(body.replace(b"RoomCreated", b"RoomDeleted"), header, secret)
    old = sign(body, secret, int(time.time()) - 301)
    with pytest.raises(SignatureError):
        verify(body, old, secret)
    attempts = api.ok("GET", f"/webhooks/{api.ok('GET', '/webhooks')['webhooks'][0]['webhookId']}"
                             "/deliveries")["deliveries"]
    assert attempts and attempts[0]["outcome"] == "delivered" and attempts[0]["responseCode"] == 200


def test_each_rooms_order_holds_when_the_receiver_fails_one_in_three(stack):
    api, receiver, deliverer = stack
    receiver.fail_every = 3
    register(api, receiver)
    last = make_events(api, 3, 5)
    deliverer.start()
    assert wait_until(lambda: delivered_all(receiver, last), DELIVERED_WITHIN), deliverer.log.read_text()
    for room, seqs in seqs_by_room(receiver).items():
        assert seqs == list(range(1, last[room] + 1)), (room, seqs)  # in order, each once
    # a failed delivery comes again with the same id (and the same body)
    with receiver.lock:
        failed = [(h["DropOn-Delivery-Id"], b) for h, b, ok in receiver.requests if not ok]
        acked = {h["DropOn-Delivery-Id"]: b for h, b, ok in receiver.requests if ok}
    assert failed and all(acked[i] == body for i, body in failed)


def test_a_killed_deliverer_loses_nothing_and_keeps_each_rooms_order(stack):
    api, receiver, deliverer = stack
    register(api, receiver)
    first = make_events(api, 3, 4)
    deliverer.start()
    assert wait_until(lambda: len(receiver.acked()) >= 3, DELIVERED_WITHIN), deliverer.log.read_text()
    deliverer.kill()  # mid-stream: SIGKILL, nothing flushed, nothing said
    before = len(receiver.acked())
    later = make_events(api, 2, 3)  # written while no deliverer runs
    deliverer.start()
    everything = {**first, **later}
    assert wait_until(lambda: delivered_all(receiver, everything), DELIVERED_WITHIN), \
        deliverer.log.read_text()
    assert before < sum(everything.values())  # the kill did come mid-stream
    for room, seqs in seqs_by_room(receiver).items():
        # at least once: a delivery cut short may come twice, but never out of order
        assert sorted(set(seqs)) == list(range(1, everything[room] + 1)), (room, seqs)
        assert all(a <= b for a, b in zip(seqs, seqs[1:])), (room, seqs)


def test_a_private_url_is_refused_when_the_setting_is_off(stack):
    api, receiver, deliverer = stack
    # registered while allowed, then delivered by a deliverer that does not allow it
    hook = register(api, receiver)["webhookId"]
    make_events(api, 1, 0)
    deliverer.start(allow_private=False)
    wait_until(lambda: api.ok("GET", f"/webhooks/{hook}/deliveries")["deliveries"], DELIVERED_WITHIN)
    attempt = api.ok("GET", f"/webhooks/{hook}/deliveries")["deliveries"][0]
    assert attempt["outcome"] == "refused" and attempt["responseCode"] is None
    assert receiver.requests == []
    # and the API refuses to register it at all
    bootstrap.configure(webhook_settings=WebhookSettings(key=KEY, allow_private=False))
    code, error = api.error("POST", "/webhooks", {"url": receiver.url})
    assert (code, error) == (422, "webhook_url_not_allowed")


def test_concurrent_registrations_from_two_processes_are_all_kept(dynamodb_endpoint):
    # two applications on the same tables stand for two API containers
    from concurrent.futures import ThreadPoolExecutor
    from datetime import datetime, timezone

    from chalicelib.bootstrap import build_webhooks
    env = store_env(dynamodb_endpoint)
    settings = WebhookSettings(key=KEY, allow_private=True)
    apps = [build_webhooks(env, settings) for _ in range(2)]

    def register_one(n: int) -> str:
        return apps[n % 2].register(ADMIN, url=f"http://127.0.0.1:9/{n}", events=["*"],
                                    rooms=None, now=datetime.now(timezone.utc))["webhookId"]

    with ThreadPoolExecutor(12) as pool:
        ids = list(pool.map(register_one, range(12)))
    listed = [w["webhookId"] for w in apps[0].list_webhooks()]
    assert sorted(listed) == sorted(ids) and len(set(ids)) == 12
    assert all(apps[1].get_webhook(i)["status"] == "active" for i in ids)
