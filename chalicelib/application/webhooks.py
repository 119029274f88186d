"""Webhook endpoints (the admin's commands) and the policy that queues their deliveries.

``WebhooksApplication`` is an eventsourcing process application: it follows the rooms'
notification log and, for each room event an endpoint wants, appends a delivery to that
endpoint's queue for the room. The queue's new events and the position in the rooms'
log commit in one transaction (``DynamoDBProcessRecorder``), so an event is queued
exactly once and a crash loses none. Sending is ``WebhookDeliverer``'s job.
"""
from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError
from eventsourcing.system import ProcessApplication

from chalicelib.application.errors import WebhooksNotConfigured
from chalicelib.application.views import event_view, iso
from chalicelib.domain import Actor
from chalicelib.domain.errors import Conflict
from chalicelib.domain.webhooks import (
    DELETED,
    DeliveryCursor,
    DeliveryQueue,
    EndpointIndex,
    WebhookEndpoint,
    WebhookNotFound,
)

ROOMS_LOG = "RoomsApplication"  # the leader followed: its name in the tracking table


class SecretBox(Protocol):
    """Seals endpoint secrets at rest (``persistence.secret_box``)."""

    def seal(self, secret: str) -> str: ...

    def open(self, sealed: str) -> str: ...


class UrlGuard(Protocol):
    """Refuses URLs whose host resolves to an address webhooks may not reach."""

    def check(self, url: str) -> None: ...


class WebhooksApplication(ProcessApplication):
    """Endpoints, their per-room delivery queues and cursors; follows the rooms' log."""

    name = "WebhooksApplication"
    snapshotting_intervals = {DeliveryQueue: 100, DeliveryCursor: 100}

    def __init__(self, env: dict[str, str] | None = None, *, secret_box: SecretBox | None = None,
                 url_guard: UrlGuard | None = None):
        super().__init__(env)
        self.secret_box, self.url_guard = secret_box, url_guard
        # (endpoint id, room id) of queues this process wrote to since it last looked
        self.queued: set[tuple[str, str]] = set()
        self.queued_lock = threading.Lock()

    # the admin's commands

    def register(self, actor: Actor, *, url: str, events: list[str], rooms: list[str] | None,
                 now: datetime) -> dict[str, Any]:
        """A new endpoint; the answer is the only one that ever shows its secret."""
        if self.secret_box is None:
            raise WebhooksNotConfigured()
        if self.url_guard is not None:
            self.url_guard.check(url)
        secret = new_secret()
        sealed = self.secret_box.seal(secret)
        for _ in range(20):  # the index is shared by every registration: retry a lost race
            # built afresh each time: a failed save has already taken the pending events
            endpoint = WebhookEndpoint(url=url, events=events, rooms=rooms, sealed_secret=sealed,
                                       at=now, by=actor.as_dict())
            index = self._index() or EndpointIndex()
            index.add(str(endpoint.id))
            try:
                self.save(endpoint, index)
                break
            except IntegrityError:
                continue
        else:
            raise Conflict("webhook registrations kept racing; try again")
        return {**endpoint_view(endpoint), "secret": secret}

    def rotate_secret(self, actor: Actor, webhook_id: str, *, keep_previous_for: int,
                      now: datetime) -> dict[str, Any]:
        """A new secret, shown once; the old one also signs for ``keep_previous_for`` s."""
        if self.secret_box is None:
            raise WebhooksNotConfigured()
        endpoint = self.endpoint(webhook_id)
        secret = new_secret()
        endpoint.rotate_secret(self.secret_box.seal(secret), now,
                               now + timedelta(seconds=keep_previous_for), actor.as_dict())
        self.save(endpoint)
        return {"webhookId": str(endpoint.id), "secret": secret,
                "previousSecretExpiresAt": iso(endpoint.previous_expires_at)}

    def list_webhooks(self) -> list[dict[str, Any]]:
        return [endpoint_view(e) for e in self.endpoints() if e.status != DELETED]

    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        return endpoint_view(self.endpoint(webhook_id))

    def delete_webhook(self, actor: Actor, webhook_id: str, now: datetime) -> dict[str, Any]:
        endpoint = self.endpoint(webhook_id)
        endpoint.delete(now, actor.as_dict())
        self.save(endpoint)
        return endpoint_view(endpoint)

    def deliveries(self, webhook_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The endpoint's latest attempts, newest first, across its rooms."""
        endpoint = self.endpoint(webhook_id)
        attempts = []
        for room_id in endpoint.queued_rooms:
            cursor = self._get(DeliveryCursor.create_id(str(endpoint.id), room_id))
            attempts += [] if cursor is None else cursor.recent
        attempts.sort(key=lambda a: a["at"], reverse=True)
        return [{**a, "at": iso(a["at"]), "nextAttemptAt": iso(a["nextAttemptAt"])}
                for a in attempts[:limit]]

    # reads for the deliverer

    def endpoint(self, webhook_id: str) -> WebhookEndpoint:
        try:
            endpoint = self._get(UUID(str(webhook_id)))
        except ValueError:
            endpoint = None
        if not isinstance(endpoint, WebhookEndpoint) or endpoint.status == DELETED:
            raise WebhookNotFound(webhook_id)
        return endpoint

    def endpoints(self) -> list[WebhookEndpoint]:
        index = self._index()
        return [] if index is None else [self.repository.get(UUID(i)) for i in index.endpoint_ids]

    def _index(self) -> EndpointIndex | None:
        return self._get(EndpointIndex.create_id())

    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    # following the rooms' log

    def policy(self, domain_event: Any, processing_event: ProcessingEvent) -> None:
        """Queue the room event for every active endpoint that wants it."""
        view = event_view(domain_event)
        room_id = str(domain_event.originator_id)
        nid = processing_event.tracking.notification_id
        delivery = {"id": str(nid), "type": view["type"], "roomId": room_id, "seq": view["seq"],
                    "time": view["time"], "data": view["data"]}
        for endpoint in self.endpoints():
            if not endpoint.matches(room_id, view["type"]):
                continue
            endpoint_id = str(endpoint.id)
            queue = self._get(DeliveryQueue.create_id(endpoint_id, room_id))
            if queue is None:
                queue = DeliveryQueue(endpoint_id, room_id)
                endpoint.open_queue(room_id)
                processing_event.collect_events(DeliveryCursor(endpoint_id, room_id), endpoint)
            queue.enqueue(delivery)
            processing_event.collect_events(queue)
            with self.queued_lock:
                self.queued.add((endpoint_id, room_id))

    def take_queued(self) -> set[tuple[str, str]]:
        """The queues written to since the last call."""
        with self.queued_lock:
            queued, self.queued = self.queued, set()
        return queued


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def endpoint_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"webhookId": str(endpoint.id), "url": endpoint.url, "events": list(endpoint.events),
            "rooms": None if endpoint.rooms is None else list(endpoint.rooms),
            "status": endpoint.status, "createdAt": iso(endpoint.registered_at),
            "disabledReason": endpoint.disabled_reason}
