"""pynamodb models of the event store's tables, bound to table names at run time.

Attribute names are one letter: DynamoDB counts them in every item's size.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE
from pynamodb.exceptions import TableError
from pynamodb.models import Model

MAX_ITEM_BYTES = 400 * 1024
# the events table's stream: its new items drive the real-time sockets
STREAMED_PURPOSE, STREAM_VIEW = "events", "NEW_IMAGE"


class EventItem(Model):
    """One event of one aggregate: the aggregate's stream is the partition."""

    originator_id = UnicodeAttribute(hash_key=True, attr_name="i")
    originator_version = NumberAttribute(range_key=True, attr_name="v")
    topic = UnicodeAttribute(attr_name="t")
    state = BinaryAttribute(attr_name="s", legacy_encoding=False)


class NotificationItem(Model):
    """One entry of a notification log shard: the shard is the partition, the id the sort key."""

    shard = UnicodeAttribute(hash_key=True, attr_name="p")
    notification_id = NumberAttribute(range_key=True, attr_name="n")
    originator_id = UnicodeAttribute(attr_name="i")
    originator_version = NumberAttribute(attr_name="v")
    topic = UnicodeAttribute(attr_name="t")
    state = BinaryAttribute(attr_name="s", legacy_encoding=False)


class TrackingItem(Model):
    """The position a downstream application has reached in one upstream log."""

    application_name = UnicodeAttribute(hash_key=True, attr_name="a")
    notification_id = NumberAttribute(attr_name="n")


@dataclass(frozen=True)
class Endpoint:
    """Where the tables live: region, an optional local endpoint, the HTTP pool size."""

    region: str | None
    host: str | None
    max_pool_connections: int


def bind(model: type[Model], table_name: str, endpoint: Endpoint,
         stream: bool = False) -> type[Model]:
    """A subclass of ``model`` whose ``Meta`` names ``table_name`` at ``endpoint``;
    with ``stream``, the table is created with a stream of new images."""
    meta = type("Meta", (), {
        "table_name": table_name,
        "region": endpoint.region,
        "host": endpoint.host,
        "billing_mode": PAY_PER_REQUEST_BILLING_MODE,
        "max_pool_connections": endpoint.max_pool_connections,
        **({"stream_view_type": STREAM_VIEW} if stream else {}),
    })
    return type(f"{model.__name__}[{table_name}]", (model,), {"Meta": meta})


def create_table(model: type[Model], timeout: float = 60.0) -> None:
    """Create the model's table (on-demand billing) unless it exists; wait until ACTIVE."""
    if not model.exists():
        try:
            model.create_table(billing_mode=PAY_PER_REQUEST_BILLING_MODE)
        except TableError as e:
            # another process created it first: fine, wait for it below
            if "ResourceInUseException" not in str(e.cause or e):
                raise
    deadline = time.monotonic() + timeout
    while model.describe_table().get("TableStatus") != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {model.Meta.table_name} not ACTIVE after {timeout}s")
        time.sleep(0.2)


def item_size(attributes: dict[str, str | bytes | int]) -> int:
    """Bytes DynamoDB counts for an item: attribute names plus values.

    A number counts one byte per two significant digits plus one (documented rule).
    """
    size = 0
    for name, value in attributes.items():
        size += len(name.encode())
        if isinstance(value, bytes):
            size += len(value)
        elif isinstance(value, str):
            size += len(value.encode())
        else:
            digits = str(abs(value)).strip("0") or "0"
            size += (len(digits) + 1) // 2 + 1 + (value < 0)
    return size
