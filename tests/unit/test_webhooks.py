"""Webhooks on the in-memory store: the routes, the policy and the deliverer with a fake
receiver and a clock the test moves (no network, no sleeping on the clock)."""
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from chalice.test import Client
from cryptography.fernet import Fernet

from chalicelib import bootstrap
from chalicelib.api.auth import mint_admin_token, mint_participant_token
from chalicelib.application import Actor, RoomsApplication
from chalicelib.application.deliverer import WebhookDeliverer
from chalicelib.application.webhooks import WebhooksApplication
from chalicelib.config import Settings, WebhookSettings
from chalicelib.delivery.http import AddressGuard
from chalicelib.domain.signature import SignatureError, verify
from chalicelib.persistence.secret_box import FernetSecretBox

POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
ADMIN = Actor("api_key", "k")
KEY, API_SECRET = "k", "s" * 32


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 1, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


class Receiver:
    """Answers from ``answer(n, delivery)``; records what arrived, verified."""

    def __init__(self, secret=None, answer=lambda n, d: 200, clock=None, step=timedelta()):
        self.secret, self.answer, self.clock, self.step = secret, answer, clock, step
        self.calls, self.acked = [], []

    def send(self, url, body, headers):
        delivery = verify(body, headers["DropOn-Signature"], self.secret) if self.secret else json.loads(body)
        assert headers["DropOn-Delivery-Id"] == delivery["id"]
        self.calls.append(delivery)
        if self.clock:
            self.clock.now += self.step
        code = self.answer(len(self.calls), delivery)
        if 200 <= code < 300:
            self.acked.append(delivery)
            return {"outcome": "delivered", "responseCode": code, "latencyMs": 1.0, "error": None}
        return {"outcome": "failed", "responseCode": code, "latencyMs": 1.0, "error": f"HTTP {code}"}


def system(receiver, clock=None, **settings):
    clock = clock or Clock()
    rooms = RoomsApplication(env=POPO)
    hooks = WebhooksApplication(env=POPO, secret_box=FernetSecretBox(Fernet.generate_key().decode()))
    webhook_settings = WebhookSettings(**{"key": "x", "retry_base": 0, "poll": 0, **settings})
    deliverer = WebhookDeliverer(hooks, rooms.notification_log, receiver, webhook_settings, clock)
    return rooms, hooks, deliverer, clock


def settle(deliverer, steps=2000):
    """Step until nothing is pending, in flight or newly queued."""
    with ThreadPoolExecutor(4) as pool:
        for _ in range(steps):
            deliverer.step(pool)
            time.sleep(0.002)  # let the workers run
            with deliverer.lock:
                now = deliverer.clock()
                busy = deliverer.in_flight or {k for k in deliverer.pending
                                               if deliverer.not_before.get(k, now) <= now}
            if not busy:  # a step pulls the whole log before it dispatches
                return
    raise AssertionError("the deliverer did not settle")


def room_with_events(rooms, clock, n):
    room = rooms.create_room(ADMIN, name="r", persistent=True, now=clock())
    for i in range(n):
        rooms.update_policy(ADMIN, room["id"], {"maxParticipants": 10 + i}, clock())
    return room["id"]


def test_each_rooms_order_holds_when_one_delivery_in_three_fails():
    receiver = Receiver(answer=lambda n, d: 500 if n % 3 == 0 else 204)
    rooms, hooks, deliverer, clock = system(receiver)
    receiver.secret = hooks.register(ADMIN, url="https://hooks.test/in", events=["*"], rooms=None,
                                     now=clock())["secret"]
    ids = [room_with_events(rooms, clock, 6) for _ in range(3)]
    settle(deliverer)
    for room_id in ids:
        acked = [d["seq"] for d in receiver.acked if d["roomId"] == room_id]
        assert acked == list(range(1, len(acked) + 1)) and len(acked) >= 7
    # a retry carries the id of the attempt that failed: receivers de-duplicate on it
    failed = [d for n, d in enumerate(receiver.calls, 1) if n % 3 == 0]
    assert failed and all(d["id"] in {a["id"] for a in receiver.acked} for d in failed)
    assert len({d["id"] for d in receiver.acked}) == len(receiver.acked)


def test_a_failing_room_holds_up_no_other_room():
    receiver = Receiver(answer=lambda n, d: 500 if d["roomId"] == stuck else 200)
    rooms, hooks, deliverer, clock = system(receiver, retry_base=60)
    hooks.register(ADMIN, url="https://hooks.test/in", events=["*"], rooms=None, now=clock())
    stuck = room_with_events(rooms, clock, 3)
    fine = room_with_events(rooms, clock, 3)
    settle(deliverer)
    assert [d["seq"] for d in receiver.acked] == [1, 2, 3, 4]
    assert {d["roomId"] for d in receiver.acked} == {fine}
    assert [d["seq"] for d in receiver.calls if d["roomId"] == stuck] == [1]  # waits to retry


def test_after_its_run_ends_a_worker_starts_no_delivery_and_the_queue_stays_pending():
    receiver = Receiver()
    rooms, hooks, deliverer, clock = system(receiver)
    hooks.register(ADMIN, url="https://hooks.test/in", events=["*"], rooms=None, now=clock())
    room_id = room_with_events(rooms, clock, 2)
    deliverer.stop_sending_at = 0.0  # a run that is over
    with ThreadPoolExecutor(1) as pool:
        deliverer.step(pool)
    assert receiver.calls == [] and {r for _, r in deliverer.pending} == {room_id}
    deliverer.stop_sending_at = float("inf")  # the next run
    settle(deliverer)
    assert [d["seq"] for d in receiver.acked] == [1, 2, 3]


def test_filters_by_event_type_and_room():
    receiver = Receiver()
    rooms, hooks, deliverer, clock = system(receiver)
    first = room_with_events(rooms, clock, 1)
    hooks.register(ADMIN, url="https://hooks.test/in", events=["RoomClosed"], rooms=[first],
                   now=clock())
    other = room_with_events(rooms, clock, 1)
    for room_id in (first, other):
        rooms.close_room(ADMIN, room_id, now=clock())
    settle(deliverer)
    assert [(d["type"], d["roomId"]) for d in receiver.acked] == [("RoomClosed", first)]


def test_an_endpoint_failing_past_the_max_age_is_disabled_and_gets_nothing_more():
    clock = Clock()
    receiver = Receiver(answer=lambda n, d: 503, clock=clock, step=timedelta(seconds=40))
    rooms, hooks, deliverer, _ = system(receiver, clock=clock, max_age=100)
    hook = hooks.register(ADMIN, url="https://hooks.test/in", events=["*"], rooms=None, now=clock())
    room_with_events(rooms, clock, 2)
    settle(deliverer)
    assert [d["seq"] for d in receiver.calls] == [1, 1, 1, 1]  # 0, 40, 80, 120 s: given up
    view = hooks.get_webhook(hook["webhookId"])
    assert view["status"] == "failing" and "failed for 100 s" in view["disabledReason"]
    topics = [n.topic for n in hooks.recorder.select_notifications(start=1, limit=1000)]
    assert sum(t.endswith("WebhookEndpoint.Disabled") for t in topics) == 1
    attempts = hooks.deliveries(hook["webhookId"])
    assert [a["attempt"] for a in attempts] == [4, 3, 2, 1]
    assert {a["outcome"] for a in attempts} == {"failed"} and attempts[0]["responseCode"] == 503


def test_a_deleted_endpoint_gets_nothing_more_and_the_secret_is_never_stored_in_clear():
    receiver = Receiver()
    rooms, hooks, deliverer, clock = system(receiver)
    hook = hooks.register(ADMIN, url="https://hooks.test/in", events=["*"], rooms=None, now=clock())
    room_with_events(rooms, clock, 1)
    settle(deliverer)
    hooks.delete_webhook(ADMIN, hook["webhookId"], clock())
    room_with_events(rooms, clock, 1)
    settle(deliverer)
    assert len(receiver.acked) == 2 and hooks.list_webhooks() == []
    stored = b"".join(n.state for n in hooks.recorder.select_notifications(start=1, limit=1000))
    assert hook["secret"].encode() not in stored


def test_a_rotated_secret_signs_with_the_previous_one_while_it_is_kept():
    receiver = Receiver()
    rooms, hooks, deliverer, clock = system(receiver)
    old = hooks.register(ADMIN, url="https://hooks.test/in", events=["*"], rooms=None, now=clock())
    rotated = hooks.rotate_secret(ADMIN, old["webhookId"], keep_previous_for=60, now=clock())
    assert rotated["secret"] != old["secret"] and rotated["previousSecretExpiresAt"]
    headers = []
    receiver.send = lambda url, body, h: headers.append((body, h["DropOn-Signature"])) or {
        "outcome": "delivered", "responseCode": 200, "latencyMs": 1.0, "error": None}
    room_with_events(rooms, clock, 0)
    settle(deliverer)
    clock.now += timedelta(seconds=61)
    room_with_events(rooms, clock, 0)
    settle(deliverer)
    (kept_body, kept), (later_body, later) = headers
    for secret in (old["secret"], rotated["secret"]):  # both sign while the old one is kept
        verify(kept_body, kept, secret)
    verify(later_body, later, rotated["secret"])
    with pytest.raises(SignatureError):
        verify(later_body, later, old["secret"])


# the routes, through Chalice's test client

@pytest.fixture
def api():
    from app import app
    bootstrap.configure(settings=Settings(api_keys={KEY: API_SECRET}, store_env=POPO),
                        application=RoomsApplication(env=POPO),
                        webhook_settings=WebhookSettings(key=Fernet.generate_key().decode()))
    admin = mint_admin_token(KEY, API_SECRET, 300)

    def call(method, path, body=None, token=admin):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        with Client(app) as client:
            r = client.http.request(method, path, headers=headers,
                                    body=json.dumps(body) if body is not None else b"")
        return r.status_code, json.loads(r.body)
    yield call
    bootstrap.reset()


def test_the_secret_is_shown_once_at_creation(api):
    status, created = api("POST", "/webhooks", {"url": "https://93.184.216.34/in",
                                                "events": ["RoomClosed"]})
    assert status == 201 and created["secret"].startswith("whsec_")
    assert created["events"] == ["RoomClosed"] and created["rooms"] is None
    hook = created["webhookId"]
    for path in (f"/webhooks/{hook}", "/webhooks", f"/webhooks/{hook}/deliveries"):
        status, body = api("GET", path)
        assert status == 200 and "secret" not in json.dumps(body) and created["secret"] not in json.dumps(body)
    assert api("DELETE", f"/webhooks/{hook}")[1]["status"] == "deleted"
    assert api("GET", f"/webhooks/{hook}")[1]["error"]["code"] == "webhook_not_found"


@pytest.mark.parametrize("body,status,code", [
    ({}, 422, "missing_field"),
    ({"url": "ftp://x.test/"}, 422, "invalid_field"),
    ({"url": "https://93.184.216.34/", "events": ["Nope"]}, 422, "invalid_field"),
    ({"url": "https://93.184.216.34/", "events": []}, 422, "invalid_field"),
    ({"url": "https://93.184.216.34/", "rooms": "r1"}, 422, "invalid_field"),
    ({"url": "https://93.184.216.34/", "roomId": "r1", "rooms": ["r2"]}, 422, "invalid_field"),
    ({"url": "https://93.184.216.34/", "room": "r1"}, 422, "unknown_field"),
    ({"url": "http://127.0.0.1:8080/hook"}, 422, "webhook_url_not_allowed"),
    ({"url": "http://169.254.169.254/latest"}, 422, "webhook_url_not_allowed"),
    ({"url": "http://[::1]/"}, 422, "webhook_url_not_allowed"),
])
def test_bad_registrations_get_stable_codes(api, body, status, code):
    got_status, got = api("POST", "/webhooks", body)
    assert (got_status, got["error"]["code"]) == (status, code)


def test_every_route_needs_an_admin_token(api):
    participant, _ = mint_participant_token(Settings(api_keys={KEY: API_SECRET}), KEY,
                                            room_id="r", identity="a", role="host", ttl_seconds=60)
    routes = [("POST", "/webhooks"), ("GET", "/webhooks"), ("GET", "/webhooks/x"),
              ("POST", "/webhooks/x/rotate-secret"),
              ("DELETE", "/webhooks/x"), ("GET", "/webhooks/x/deliveries")]
    for method, path in routes:
        assert api(method, path, token=None)[0] == 401
        assert api(method, path, token=participant)[1]["error"]["code"] == "forbidden"


def test_one_room_by_room_id(api):
    created = api("POST", "/webhooks", {"url": "https://93.184.216.34/", "roomId": "r1"})[1]
    assert created["rooms"] == ["r1"] and created["events"] == ["*"]


def test_rotating_shows_the_new_secret_once(api):
    created = api("POST", "/webhooks", {"url": "https://93.184.216.34/in"})[1]
    hook = created["webhookId"]
    status, rotated = api("POST", f"/webhooks/{hook}/rotate-secret", {"keepPreviousFor": 3600})
    assert status == 200 and rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert rotated["secret"] not in json.dumps(api("GET", f"/webhooks/{hook}")[1])
    for body, code in [({"keepPreviousFor": -1}, "invalid_field"),
                       ({"keepPreviousFor": 604801}, "invalid_field"),
                       ({"grace": 1}, "unknown_field")]:
        assert api("POST", f"/webhooks/{hook}/rotate-secret", body)[1]["error"]["code"] == code
    assert api("POST", "/webhooks/nope/rotate-secret", {})[1]["error"]["code"] == "webhook_not_found"


def test_unknown_ids_and_bad_queries(api):
    assert api("GET", "/webhooks/not-a-uuid")[1]["error"]["code"] == "webhook_not_found"
    assert api("DELETE", "/webhooks/00000000-0000-0000-0000-000000000000")[0] == 404
    hook = api("POST", "/webhooks", {"url": "https://93.184.216.34/"})[1]["webhookId"]
    assert api("GET", f"/webhooks/{hook}/deliveries?limit=0")[1]["error"]["code"] == "invalid_parameter"


def test_without_a_key_the_routes_say_so(api):
    bootstrap.configure(webhook_settings=WebhookSettings(key=""))
    status, body = api("POST", "/webhooks", {"url": "https://93.184.216.34/"})
    assert (status, body["error"]["code"]) == (503, "webhooks_not_configured")
