"""Wires the control plane once per container (Lambda) or process (chalice local).

The one place where the application and its adapters are built: the settings, the
``RoomsApplication`` on the event store the environment names, the media nodes'
registry beside it, and the ``NodeService`` on both. Everything is built lazily on first
use; tests call ``configure`` to pass their own parts instead of patching module globals.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable, Mapping

from eventsourcing.utils import Environment

from .application.nodes import NodeRegistry, NodeService
from .application.rooms import RoomsApplication
from .application.sockets import ConnectionStore, SocketService
from .config import Settings

DYNAMODB_MODULE = "chalicelib.persistence.dynamodb"

_lock = threading.RLock()
_parts: dict[str, object] = {}  # settings, application, node_registry, nodes, connections, sockets
_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


def configure(*, settings: Settings | None = None, application: RoomsApplication | None = None,
              node_registry: NodeRegistry | None = None,
              connections: ConnectionStore | None = None,
              clock: Callable[[], datetime] | None = None) -> None:
    """Use these parts instead of building them from the environment."""
    global _clock
    given = {"settings": settings, "application": application, "node_registry": node_registry,
             "connections": connections}
    with _lock:
        if settings is not None and node_registry is None:
            _parts.pop("node_registry", None)  # built again for the new settings' store
        _parts.update({name: part for name, part in given.items() if part is not None})
        if settings is not None and connections is None:
            _parts.pop("connections", None)
        _parts.pop("nodes", None)  # built again on the parts now configured
        _parts.pop("sockets", None)
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


def connections() -> ConnectionStore:
    """The rooms' real-time sockets, on the same store as the application."""
    return _part("connections", lambda: build_connections(settings().store_env))


def sockets() -> SocketService:
    """The real-time sockets' use cases, on this container's application."""
    return _part("sockets", lambda: SocketService(application(), connections()))


def build_application(store_env: Mapping[str, str]) -> RoomsApplication:
    return RoomsApplication(env=dict(store_env))


def build_node_registry(store_env: Mapping[str, str]) -> NodeRegistry:
    """``<DYNAMODB_TABLE_PREFIX>-nodes`` beside the event store when the store is DynamoDB;
    a process-local registry otherwise (the in-memory store)."""
    from .persistence.nodes import DynamoDBNodeRegistry, InMemoryNodeRegistry
    return _beside_store(store_env, DynamoDBNodeRegistry, InMemoryNodeRegistry)


def build_connections(store_env: Mapping[str, str]) -> ConnectionStore:
    """``<DYNAMODB_TABLE_PREFIX>-connections`` when the store is DynamoDB, else in memory."""
    from .persistence.connections import DynamoDBConnectionStore, InMemoryConnectionStore
    return _beside_store(store_env, DynamoDBConnectionStore, InMemoryConnectionStore)


def _beside_store(store_env: Mapping[str, str], dynamodb, in_memory):
    """``dynamodb.from_env`` when the event store is DynamoDB, else ``in_memory()``."""
    env = Environment(RoomsApplication.name, dict(store_env))
    if env.get("PERSISTENCE_MODULE", "").split(":")[0] != DYNAMODB_MODULE:
        return in_memory()
    return dynamodb.from_env(env)


def now() -> datetime:
    return _clock()
