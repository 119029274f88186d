"""Webhook endpoints and their deliveries, as aggregates; the rules of URLs and retries.

- ``WebhookEndpoint``: where to send which rooms' events, with its secret sealed
  (encrypted by the application before it gets here). ``Disabled`` is the
  ``webhook.disabled`` event.
- ``EndpointIndex``: the one list of endpoint ids (registrations are rare).
- ``DeliveryQueue`` (one per endpoint and room): the deliveries in the room's order,
  appended by the deliverer's policy as it follows the rooms' log.
- ``DeliveryCursor`` (one per endpoint and room): how many of them were acknowledged,
  and the attempts. Queue and cursor are apart so that their two writers (following the
  log, sending) never conflict.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .errors import DomainError, InvalidArgument

ACTIVE, FAILING, DELETED = "active", "failing", "deleted"
URL_MAX = 2048
RECENT_ATTEMPTS = 50  # attempts a cursor keeps for GET /webhooks/{id}/deliveries


class WebhookUrlNotAllowed(InvalidArgument):
    code = "webhook_url_not_allowed"


class WebhookNotFound(DomainError):
    code, status = "webhook_not_found", 404

    def __init__(self, webhook_id: object):
        super().__init__(f"webhook {webhook_id} not found", webhook_id=webhook_id)


class WebhookEndpoint(Aggregate):
    @event("Registered")
    def __init__(self, url: str, events: list, rooms: list | None, sealed_secret: str,
                 at: datetime, by: dict):
        self.url, self.events, self.rooms = url, events, rooms
        self.sealed_secret, self.registered_at, self.by = sealed_secret, at, by
        self.status = ACTIVE
        self.queued_rooms: list[str] = []  # rooms with a queue, for recovery and the log
        self.disabled_reason: str | None = None
        self.previous_sealed_secret: str | None = None  # still signs until it expires
        self.previous_expires_at: datetime | None = None

    def signing_secrets(self, now: datetime) -> list[str]:
        """The sealed secrets that sign a delivery now: the current one, and the previous
        one while it is honoured."""
        keep = self.previous_expires_at is not None and now < self.previous_expires_at
        return [self.sealed_secret] + ([self.previous_sealed_secret] if keep else [])

    @event("SecretRotated")
    def rotate_secret(self, sealed_secret: str, at: datetime, previous_expires_at: datetime,
                      by: dict) -> None:
        self.previous_sealed_secret, self.sealed_secret = self.sealed_secret, sealed_secret
        self.previous_expires_at = previous_expires_at

    def matches(self, room_id: str, event_type: str) -> bool:
        return (self.status == ACTIVE and ("*" in self.events or event_type in self.events)
                and (self.rooms is None or room_id in self.rooms))

    def open_queue(self, room_id: str) -> None:
        if room_id not in self.queued_rooms:
            self._queue_opened(room_id)

    @event("QueueOpened")
    def _queue_opened(self, room_id: str) -> None:
        self.queued_rooms.append(room_id)

    def delete(self, at: datetime, by: dict) -> None:
        if self.status != DELETED:
            self._deleted(at, by)

    @event("Deleted")
    def _deleted(self, at: datetime, by: dict) -> None:
        self.status = DELETED

    def disable(self, at: datetime, reason: str, delivery_id: str) -> None:
        if self.status == ACTIVE:
            self._disabled(at, reason, delivery_id)

    @event("Disabled")
    def _disabled(self, at: datetime, reason: str, delivery_id: str) -> None:
        self.status, self.disabled_reason = FAILING, reason


class EndpointIndex(Aggregate):
    """Every endpoint ever registered, in order (deleted ones stay: their log stays)."""

    @staticmethod
    def create_id() -> UUID:
        return uuid5(NAMESPACE_URL, "dropon:webhooks:index")

    @event("Created")
    def __init__(self) -> None:
        self.endpoint_ids: list[str] = []

    @event("Added")
    def add(self, endpoint_id: str) -> None:
        self.endpoint_ids.append(endpoint_id)


def per_room_id(kind: str, endpoint_id: str, room_id: str) -> UUID:
    """The id of an endpoint's ``kind`` (queue, cursor) for one room: found, never stored."""
    return uuid5(NAMESPACE_URL, f"dropon:webhooks:{kind}:{endpoint_id}:{room_id}")


class DeliveryQueue(Aggregate):
    """An endpoint's deliveries of one room, in the room's order."""

    create_id = staticmethod(lambda endpoint_id, room_id: per_room_id("queue", endpoint_id, room_id))

    @event("Opened")
    def __init__(self, endpoint_id: str, room_id: str) -> None:
        self.endpoint_id, self.room_id = endpoint_id, room_id
        self.items: list[dict] = []

    @event("Queued")
    def enqueue(self, delivery: dict) -> None:
        self.items.append(delivery)


def retry_delay(failures: int, base: float, cap: float) -> float:
    """Seconds before the next attempt after ``failures`` failed ones (1, 2, 4, ... capped)."""
    return min(cap, base * 2 ** max(0, failures - 1))


class DeliveryCursor(Aggregate):
    """How far an endpoint's queue for one room was acknowledged, and its attempts."""

    create_id = staticmethod(lambda endpoint_id, room_id: per_room_id("cursor", endpoint_id, room_id))

    @event("Opened")
    def __init__(self, endpoint_id: str, room_id: str) -> None:
        self.endpoint_id, self.room_id = endpoint_id, room_id
        self.delivered = 0  # deliveries of the queue acknowledged with a 2xx
        self.failures = 0  # failed attempts of the delivery at the head
        self.first_failure_at: datetime | None = None
        self.next_attempt_at: datetime | None = None
        self.recent: list[dict] = []

    def due(self, now: datetime) -> bool:
        return self.next_attempt_at is None or self.next_attempt_at <= now

    def given_up(self, now: datetime, max_age: float) -> bool:
        """Whether the head delivery has failed for longer than ``max_age`` seconds."""
        return (self.first_failure_at is not None
                and now - self.first_failure_at >= timedelta(seconds=max_age))

    def record(self, attempt: dict, at: datetime, base: float, cap: float) -> None:
        """Record one attempt of the head delivery; a failure schedules the next."""
        failures = 0 if attempt["outcome"] == "delivered" else self.failures + 1
        next_at = None if not failures else at + timedelta(seconds=retry_delay(failures, base, cap))
        self._attempted({**attempt, "attempt": self.failures + 1, "at": at,
                         "nextAttemptAt": next_at}, at, next_at)

    @event("Attempted")
    def _attempted(self, attempt: dict, at: datetime, next_attempt_at: datetime | None) -> None:
        if attempt["outcome"] == "delivered":
            self.delivered += 1
            self.failures, self.first_failure_at = 0, None
        else:
            self.failures += 1
            self.first_failure_at = self.first_failure_at or at
        self.next_attempt_at = next_attempt_at
        self.recent = [attempt, *self.recent][:RECENT_ATTEMPTS]


@dataclass(frozen=True)
class WebhookUrl:
    """A webhook URL taken apart: where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    target: str  # path and query


def parse_url(url: object) -> WebhookUrl:
    """``url`` if it is an http(s) URL a webhook may have, else ``InvalidArgument``."""
    if (not isinstance(url, str) or not url.startswith(("http://", "https://"))
            or len(url) > URL_MAX or any(ord(c) <= 32 for c in url)):
        raise InvalidArgument(f"url: an http(s) URL of at most {URL_MAX} characters, no spaces",
                              code="invalid_field", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidArgument("url: not a valid URL", code="invalid_field", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument("url: must be an http or https URL with a host",
                              code="invalid_field", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument("url: no user or password in the URL", code="invalid_field",
                              field="url")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookUrl(parts.scheme, parts.hostname,
                      port or (443 if parts.scheme == "https" else 80), target)


def address_allowed(address: str, allow_private: bool) -> bool:
    """Whether a webhook may be sent to ``address`` (an IP address as text)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return False
    if allow_private:
        return True
    return ip.is_global and not (ip.is_loopback or ip.is_private or ip.is_link_local
                                 or ip.is_reserved)
