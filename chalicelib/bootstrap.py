"""Wires the control plane once per container (Lambda) or process (chalice local).

The one place where the application and its adapters are built: the settings, the
``RoomsApplication`` on the event store the environment names, the media nodes'
registry beside it, the ``NodeService`` on both, and the webhooks (``WebhooksApplication``
with its secret box and URL guard, and the ``WebhookDeliverer`` with its HTTP sender). Everything is built lazily on first
use; tests call ``configure`` to pass their own parts instead of patching module globals.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable, Mapping

from eventsourcing.utils import Environment

from .application.deliverer import WebhookDeliverer
from .application.nodes import NodeRegistry, NodeService
from .application.rooms import RoomsApplication
from .application.webhooks import WebhooksApplication
from .config import Settings, WebhookSettings

DYNAMODB_MODULE = "chalicelib.persistence.dynamodb"

_lock = threading.RLock()
_parts: dict[str, object] = {}  # settings, application, node_registry, nodes, webhooks...
_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


def configure(*, settings: Settings | None = None, application: RoomsApplication | None = None,
              node_registry: NodeRegistry | None = None,
              webhook_settings: WebhookSettings | None = None,
              clock: Callable[[], datetime] | None = None) -> None:
    """Use these parts instead of building them from the environment."""
    global _clock
    given = {"settings": settings, "application": application, "node_registry": node_registry,
             "webhook_settings": webhook_settings}
    with _lock:
        if settings is not None and node_registry is None:
            _parts.pop("node_registry", None)  # built again for the new settings' store
        _parts.update({name: part for name, part in given.items() if part is not None})
        for built in ("nodes", "webhooks", "webhook_deliverer"):
            _parts.pop(built, None)  # built again on the parts now configured
        if clock is not None:
            _clock = clock


def reset() -> None:
    """Forget what was built, so the next call builds afresh from the environment."""
    global _clock
    with _lock:
        _parts.clear()
        _clock = lambda: datetime.now(timezone.utc)  # noqa: E731


def _part(name: str, build: Callable[[], object]):
    with _lock:
        if name not in _parts:
            _parts[name] = build()
        return _parts[name]


def settings() -> Settings:
    return _part("settings", Settings.from_env)


def application() -> RoomsApplication:
    """The ``RoomsApplication`` of this container, on the store the environment names."""
    return _part("application", lambda: build_application(settings().store_env))


def node_registry() -> NodeRegistry:
    """The media nodes' registry, on the same store as the application."""
    return _part("node_registry", lambda: build_node_registry(settings().store_env))


def nodes() -> NodeService:
    """The media nodes' use cases, on this container's registry and application."""
    return _part("nodes", lambda: NodeService(node_registry(), application(),
                                              settings().node_dead_after))


def webhook_settings() -> WebhookSettings:
    return _part("webhook_settings", WebhookSettings.from_env)


def webhooks() -> WebhooksApplication:
    """Webhook endpoints and their queues, on the same store as the rooms."""
    return _part("webhooks", lambda: build_webhooks(settings().store_env, webhook_settings()))


def webhook_deliverer() -> WebhookDeliverer:
    """The deliverer of this process: follows the rooms' log, sends what is due."""
    from .delivery.http import AddressGuard, UrllibSender
    hooks = webhook_settings()
    return _part("webhook_deliverer", lambda: WebhookDeliverer(
        webhooks(), application().notification_log,
        UrllibSender(AddressGuard(hooks.allow_private), hooks.timeout), hooks, now))


def build_webhooks(store_env: Mapping[str, str], hooks: WebhookSettings) -> WebhooksApplication:
    from .delivery.http import AddressGuard
    from .persistence.secret_box import FernetSecretBox
    return WebhooksApplication(env=dict(store_env),
                               secret_box=FernetSecretBox(hooks.key) if hooks.key else None,
                               url_guard=AddressGuard(hooks.allow_private))


def build_application(store_env: Mapping[str, str]) -> RoomsApplication:
    return RoomsApplication(env=dict(store_env))


def build_node_registry(store_env: Mapping[str, str]) -> NodeRegistry:
    """``<DYNAMODB_TABLE_PREFIX>-nodes`` beside the event store when the store is DynamoDB;
    a process-local registry otherwise (the in-memory store)."""
    from .persistence.nodes import DynamoDBNodeRegistry, InMemoryNodeRegistry
    env = Environment(RoomsApplication.name, dict(store_env))
    if env.get("PERSISTENCE_MODULE", "").split(":")[0] != DYNAMODB_MODULE:
        return InMemoryNodeRegistry()
    return DynamoDBNodeRegistry.from_env(env)


def now() -> datetime:
    return _clock()
