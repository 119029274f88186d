"""Settings of the event store, read once from the application's environment.

The library's ``Environment`` also finds each key prefixed with the application's
name (``ROOMSAPPLICATION_DYNAMODB_TABLE_PREFIX`` before ``DYNAMODB_TABLE_PREFIX``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from eventsourcing.utils import Environment, strtobool

from .items import Endpoint

CREATE_TABLE = "CREATE_TABLE"
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


@dataclass(frozen=True)
class DynamoDBSettings:
    """Everything the factory needs to build its recorders."""

    TABLE_PREFIX = "DYNAMODB_TABLE_PREFIX"
    NOTIFICATION_SHARDS = "DYNAMODB_NOTIFICATION_SHARDS"
    POLL_INTERVAL = "DYNAMODB_POLL_INTERVAL"
    MAX_POOL_CONNECTIONS = "DYNAMODB_MAX_POOL_CONNECTIONS"
    ORIGINATOR_ID_TYPE = "ORIGINATOR_ID_TYPE"

    table_prefix: str
    endpoint: Endpoint
    notification_shards: int
    originator_id_type: str
    poll_interval: float

    @classmethod
    def from_env(cls, env: Environment) -> "DynamoDBSettings":
        prefix = env.get(cls.TABLE_PREFIX)
        if not prefix:
            raise OSError(f"DynamoDB table prefix not set: one of {env.create_keys(cls.TABLE_PREFIX)}")
        shards = _int(env, cls.NOTIFICATION_SHARDS, "1")
        if shards < 1:
            raise OSError(f"{cls.NOTIFICATION_SHARDS} must be 1 or more, not {shards}")
        id_type = env.get(cls.ORIGINATOR_ID_TYPE, "uuid").lower()
        if id_type not in ("uuid", "text"):
            raise OSError(f"{cls.ORIGINATOR_ID_TYPE} must be 'uuid' or 'text', not {id_type!r}")
        endpoint = Endpoint(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            host=env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL") or None,
            max_pool_connections=_int(env, cls.MAX_POOL_CONNECTIONS, "64"),
        )
        return cls(
            table_prefix=prefix,
            endpoint=endpoint,
            notification_shards=shards,
            originator_id_type=id_type,
            poll_interval=float(env.get(cls.POLL_INTERVAL) or "0.2"),
        )

    def table_name(self, application_name: str, purpose: str) -> str:
        """``{prefix}-{application}-{purpose}``, e.g. ``dropon-roomsapplication-events``."""
        return _checked(f"{self.table_prefix}-{application_name.lower() or 'stored'}-{purpose}")

    def nodes_table_name(self) -> str:
        """``{prefix}-nodes``: the media nodes' registry, beside the event store's tables."""
        return _checked(f"{self.table_prefix}-nodes")

    def destinations_table_name(self) -> str:
        """``{prefix}-destinations``: where recordings go, beside the event store's tables."""
        return _checked(f"{self.table_prefix}-destinations")

    def connections_table_name(self) -> str:
        """``{prefix}-connections``: the rooms' real-time sockets."""
        return _checked(f"{self.table_prefix}-connections")


def creates_tables(env: Environment) -> bool:
    """``CREATE_TABLE`` (default yes): whether the code creates its tables, or the stack
    owns them. Read at each call: the library's tests switch it off on a live factory."""
    return strtobool(env.get(CREATE_TABLE) or "yes")


def _checked(name: str) -> str:
    if not TABLE_NAME.match(name):
        raise OSError(f"invalid DynamoDB table name {name!r}")
    return name


def _int(env: Environment, key: str, default: str) -> int:
    value = env.get(key) or default
    try:
        return int(value)
    except ValueError:
        raise OSError(f"{key} must be an integer, not {value!r}") from None
