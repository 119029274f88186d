"""The webhook deliverer: follows the rooms' log, then sends each queue's head in order.

One run (``run``) alternates two steps until its time is up:

1. ``WebhooksApplication.pull_and_process``: new room events become deliveries, queued
   per endpoint and room together with the log position (one transaction each).
2. ``dispatch``: every queue whose head is due is handed to a worker thread, at most
   one worker per queue. The worker sends the head; a 2xx moves the queue's cursor on
   and it sends the next; anything else records the failure and the time of the next
   attempt, and the queue waits. So a room's next event never overtakes one that was
   not acknowledged, and a failing room or endpoint holds up no other.

A crash loses nothing: queued deliveries are in the store, and a delivery whose answer
was not recorded is sent again (with the same id) by the next run.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Protocol
from uuid import UUID

from eventsourcing.application import NotificationLog
from eventsourcing.persistence import IntegrityError

from chalicelib.application.webhooks import ROOMS_LOG, WebhooksApplication
from chalicelib.domain.signature import DELIVERY_ID_HEADER, EVENT_TYPE_HEADER, HEADER, sign
from chalicelib.domain.policy import parse_time
from chalicelib.domain.webhooks import ACTIVE, DeliveryCursor, DeliveryQueue
from chalicelib.telemetry import metrics

if TYPE_CHECKING:
    from chalicelib.config import WebhookSettings

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (endpoint id, room id): one queue


class Sender(Protocol):
    """Sends one delivery (``delivery.http.UrllibSender``); never raises for the receiver's
    failures: returns ``{outcome, responseCode, latencyMs, error}``."""

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]: ...


class WebhookDeliverer:
    def __init__(self, webhooks: WebhooksApplication, rooms_log: NotificationLog,
                 sender: Sender, settings: WebhookSettings, clock: Callable[[], datetime]):
        self.webhooks, self.sender, self.settings, self.clock = webhooks, sender, settings, clock
        webhooks.follow(ROOMS_LOG, rooms_log)
        self.pending: set[Key] = set()
        self.in_flight: set[Key] = set()
        self.not_before: dict[Key, datetime] = {}  # a queue waiting to retry its head
        self.lock = threading.Lock()
        self.recovered = False
        self.stop_sending_at = float("inf")  # time.monotonic() after which workers stop

    def run(self, seconds: float | None = None, stop: threading.Event | None = None) -> None:
        """Follow and deliver for ``seconds`` (the settings' run time), or until ``stop``."""
        stop = stop or threading.Event()
        deadline = time.monotonic() + (self.settings.run_seconds if seconds is None else seconds)
        # a worker starts no delivery after the run's end, so the run ends within one
        # receiver's timeout of it (the Lambda's timeout leaves room for that)
        self.stop_sending_at = deadline
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="webhook") as pool:
            while time.monotonic() < deadline and not stop.is_set():
                try:
                    self.step(pool)
                except Exception:  # noqa: BLE001 - the store may be busy: try again shortly
                    log.exception("webhook deliverer step failed")
                stop.wait(self.settings.poll)

    def step(self, pool: ThreadPoolExecutor) -> None:
        if not self.recovered:
            self.recover()
        self.webhooks.pull_and_process(ROOMS_LOG)
        with self.lock:
            self.pending |= self.webhooks.take_queued()
        self.dispatch(pool)

    def recover(self) -> None:
        """Every queue of every active endpoint may hold deliveries from an earlier run."""
        keys = {(str(e.id), room) for e in self.webhooks.endpoints() if e.status == ACTIVE
                for room in e.queued_rooms}
        with self.lock:
            self.pending |= keys
        self.recovered = True

    def dispatch(self, pool: ThreadPoolExecutor) -> None:
        now = self.clock()
        with self.lock:
            ready = {k for k in self.pending - self.in_flight
                     if k not in self.not_before or self.not_before[k] <= now}
            self.in_flight |= ready
        for key in ready:
            pool.submit(self._drain_safely, key)

    def _drain_safely(self, key: Key) -> None:
        retry_at = None
        try:
            done, retry_at = self.drain(key)
        except Exception:  # noqa: BLE001 - stays pending; the next step tries again
            log.exception("delivering to webhook %s for room %s failed", *key)
            done = False
        with self.lock:
            self.in_flight.discard(key)
            self.not_before.pop(key, None)
            if done:
                self.pending.discard(key)
            elif retry_at is not None:
                self.not_before[key] = retry_at

    def drain(self, key: Key) -> tuple[bool, datetime | None]:
        """Send the queue's due deliveries in order: (nothing left to send, when to retry)."""
        endpoint_id, room_id = key
        while True:
            endpoint = self.webhooks.repository.get(UUID(endpoint_id))
            queue: DeliveryQueue = self.webhooks.repository.get(DeliveryQueue.create_id(*key))
            cursor: DeliveryCursor = self.webhooks.repository.get(DeliveryCursor.create_id(*key))
            if endpoint.status != ACTIVE or cursor.delivered >= len(queue.items):
                return True, None
            if not cursor.due(self.clock()):
                return False, cursor.next_attempt_at
            if time.monotonic() >= self.stop_sending_at:
                return False, None  # still pending: the next run goes on
            delivery = queue.items[cursor.delivered]
            attempt = self.send(endpoint, delivery, self.clock())
            at = self.clock()
            cursor.record({"deliveryId": delivery["id"], "roomId": room_id,
                           "seq": delivery["seq"], "type": delivery["type"], **attempt},
                          at, self.settings.retry_base, self.settings.retry_cap)
            changed = [cursor]
            if attempt["outcome"] != "delivered" and cursor.given_up(at, self.settings.max_age):
                endpoint.disable(at, f"delivery {delivery['id']} failed for "
                                 f"{int(self.settings.max_age)} s", delivery["id"])
                changed.append(endpoint)
            try:
                self.webhooks.save(*changed)
            except IntegrityError:
                continue  # the endpoint changed meanwhile (deleted?): look again
            age = (at - parse_time(delivery["time"], "time")).total_seconds()
            if attempt["outcome"] != "delivered":
                metrics.emit(metrics.WEBHOOK_FAILURES, Outcome=attempt["outcome"])
                metrics.emit(metrics.WEBHOOK_BACKLOG_AGE, age, metrics.MetricUnit.Seconds)
                return False, cursor.next_attempt_at
            metrics.emit(metrics.WEBHOOK_DELIVERY_LAG, age * 1000, metrics.MetricUnit.Milliseconds)

    def send(self, endpoint: Any, delivery: dict, now: datetime) -> dict[str, Any]:
        body = json.dumps(delivery, separators=(",", ":"), sort_keys=True).encode()
        keys = [self.webhooks.secret_box.open(s) for s in endpoint.signing_secrets(now)]
        headers = {"Content-Type": "application/json", HEADER: sign(body, keys),
                   DELIVERY_ID_HEADER: delivery["id"], EVENT_TYPE_HEADER: delivery["type"],
                   "User-Agent": "DropOnAir-Webhooks/1"}
        return self.sender.send(endpoint.url, body, headers)


