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
from .config import Settings

DYNAMODB_MODULE = "chalicelib.persistence.dynamodb"

_lock = threading.RLock()
_settings: Settings | None = None
_application: RoomsApplication | None = None
_node_registry: NodeRegistry | None = None
_nodes: NodeService | None = None
_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


def configure(*, settings: Settings | None = None, application: RoomsApplication | None = None,
              node_registry: NodeRegistry | None = None,
              clock: Callable[[], datetime] | None = None) -> None:
    """Use these parts instead of building them from the environment."""
    global _settings, _application, _node_registry, _nodes, _clock
    with _lock:
        if settings is not None:
            _settings = settings
            if node_registry is None:
                _node_registry = None  # built again for the new settings' store
        if application is not None:
            _application = application
        if node_registry is not None:
            _node_registry = node_registry
        if clock is not None:
            _clock = clock
        _nodes = None  # built again on the parts now configured


def reset() -> None:
    """Forget what was built, so the next call builds afresh from the environment."""
    global _settings, _application, _node_registry, _nodes, _clock
    with _lock:
        _settings, _application, _node_registry, _nodes = None, None, None, None
        _clock = lambda: datetime.now(timezone.utc)  # noqa: E731


def settings() -> Settings:
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env()
        return _settings


def application() -> RoomsApplication:
    """The ``RoomsApplication`` of this container, on the store the environment names."""
    global _application
    with _lock:
        if _application is None:
            _application = build_application(settings().store_env)
        return _application


def node_registry() -> NodeRegistry:
    """The media nodes' registry, on the same store as the application."""
    global _node_registry
    with _lock:
        if _node_registry is None:
            _node_registry = build_node_registry(settings().store_env)
        return _node_registry


def nodes() -> NodeService:
    """The media nodes' use cases, on this container's registry and application."""
    global _nodes
    with _lock:
        if _nodes is None:
            _nodes = NodeService(node_registry(), application(), settings().node_dead_after)
        return _nodes


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
