"""Builds the node registry and ``NodeService`` once per container, like ``bootstrap``.

The registry follows the event store's environment: ``<DYNAMODB_TABLE_PREFIX>-nodes`` at
``AWS_ENDPOINT_URL`` (created when ``CREATE_TABLE`` is set) with the DynamoDB persistence
module, a process-local registry otherwise (unit tests on ``eventsourcing.popo``).
"""
from __future__ import annotations

import threading

from .. import bootstrap
from ..persistence.items import Endpoint
from .registry import DynamoDBNodeRegistry, InMemoryNodeRegistry, NodeRegistry
from .service import NodeService

_lock = threading.Lock()
_built: tuple | None = None  # (settings it was built for, registry)
_override: NodeRegistry | None = None


def configure(registry: NodeRegistry) -> None:
    """Use this registry instead of building one (tests)."""
    global _override
    _override = registry


def reset() -> None:
    global _override, _built
    _override, _built = None, None


def registry() -> NodeRegistry:
    global _built
    if _override is not None:
        return _override
    settings = bootstrap.settings()
    with _lock:
        if _built is None or _built[0] is not settings:
            _built = (settings, build_registry(settings.store_env))
        return _built[1]


def build_registry(env) -> NodeRegistry:
    if env.get("PERSISTENCE_MODULE", "").split(":")[0] != "chalicelib.persistence.dynamodb":
        return InMemoryNodeRegistry()
    prefix = env.get("ROOMSAPPLICATION_DYNAMODB_TABLE_PREFIX") or env["DYNAMODB_TABLE_PREFIX"]
    endpoint = Endpoint(region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
                        host=env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL"),
                        max_pool_connections=16)
    create = env.get("CREATE_TABLE", "").strip().lower() in ("y", "yes", "t", "true", "on", "1")
    return DynamoDBNodeRegistry(f"{prefix}-nodes", endpoint, create=create)


def service() -> NodeService:
    return NodeService(registry(), bootstrap.application(), bootstrap.settings())
