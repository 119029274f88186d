"""The control plane's DynamoDB tables, generated from the pynamodb models the code uses.

Names come from the same rule the code applies (``DynamoDBSettings.table_name``, the
node registry's ``<prefix>-nodes`` and the recording destinations' ``<prefix>-destinations``), key schemas from ``Model._get_schema()``, which is
what ``create_table`` sends under ``CREATE_TABLE``; so the stack and the code cannot
drift apart. The rooms' store has no tracking table (it follows nothing); the webhooks'
store, a process application following the rooms' log, has one.
"""
from __future__ import annotations

from dataclasses import dataclass

from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model

from chalicelib.application import RoomsApplication
from chalicelib.application.webhooks import WebhooksApplication
from chalicelib.persistence.connections import ConnectionItem
from chalicelib.persistence.destinations import DestinationItem
from chalicelib.persistence.items import (STREAM_VIEW, EventItem, Endpoint, NotificationItem,
                                          TrackingItem)
from chalicelib.persistence.nodes import NodeItem
from chalicelib.persistence.settings import DynamoDBSettings

PREFIX = "TablePrefix"  # the stack parameter every table name starts with
_MARK = "prefixmark"  # stands for the prefix while the code's naming rule runs


@dataclass(frozen=True)
class Table:
    """One table: its logical id in the stack, its model, its name after the prefix."""

    logical_id: str
    model: type[Model]
    suffix: str  # the name is ``<prefix><suffix>``
    used_by_tick: bool  # whether the scheduled tick reads or writes it
    used_by_deliverer: bool = False  # whether the webhook deliverer reads or writes it

    def name(self, prefix: str) -> str:
        return prefix + self.suffix


_SETTINGS = DynamoDBSettings(table_prefix=_MARK, endpoint=Endpoint(None, None, 1),
                             notification_shards=1, originator_id_type="uuid",
                             poll_interval=1.0)


def _suffix(name: str) -> str:
    assert name.startswith(_MARK)
    return name[len(_MARK):]


def _store_suffix(purpose: str, application: str = RoomsApplication.name) -> str:
    return _suffix(_SETTINGS.table_name(application, purpose))


def _webhooks(logical_id: str, model: type[Model], purpose: str) -> Table:
    return Table(logical_id, model, _store_suffix(purpose, WebhooksApplication.name), False, True)


TABLES = (
    Table("EventsTable", EventItem, _store_suffix("events"), True),
    Table("SnapshotsTable", EventItem, _store_suffix("snapshots"), True),
    # the deliverer follows the rooms' log (and reads nothing else of the rooms)
    Table("NotificationsTable", NotificationItem, _store_suffix("notifications"), True, True),
    # the tick reads the nodes' heartbeats: a silent node's recordings fail (node_lost)
    Table("NodesTable", NodeItem, _suffix(_SETTINGS.nodes_table_name()), True),
    Table("DestinationsTable", DestinationItem,
          _suffix(_SETTINGS.destinations_table_name()), False),
    Table("ConnectionsTable", ConnectionItem, _suffix(_SETTINGS.connections_table_name()), False),
    _webhooks("WebhooksEventsTable", EventItem, "events"),
    _webhooks("WebhooksSnapshotsTable", EventItem, "snapshots"),
    _webhooks("WebhooksNotificationsTable", NotificationItem, "notifications"),
    _webhooks("WebhooksTrackingTable", TrackingItem, "tracking"),
)


def key_schema(model: type[Model]) -> dict:
    """``AttributeDefinitions`` and ``KeySchema`` exactly as ``create_table`` sends them."""
    schema = model._get_schema()
    out = {"AttributeDefinitions": sorted(schema["attribute_definitions"],
                                          key=lambda a: a["AttributeName"]),
           # CloudFormation wants HASH before RANGE; pynamodb lists them in attribute order
           "KeySchema": sorted(schema["key_schema"], key=lambda k: k["KeyType"] != "HASH")}
    indexes = [{"IndexName": i["index_name"], "Projection": i["projection"],
                "KeySchema": sorted(i["key_schema"], key=lambda k: k["KeyType"] != "HASH")}
               for i in schema.get("global_secondary_indexes", [])]
    if indexes:
        out["GlobalSecondaryIndexes"] = indexes
    ttl = [name for name, a in model.get_attributes().items() if isinstance(a, TTLAttribute)]
    if ttl:
        out["TimeToLiveSpecification"] = {"AttributeName": model.get_attributes()[ttl[0]].attr_name,
                                          "Enabled": True}
    return out


def resource(table: Table) -> dict:
    """The ``AWS::DynamoDB::Table`` resource: on demand, point-in-time recovery, kept on delete."""
    return {
        "Type": "AWS::DynamoDB::Table",
        # rooms' histories are the product's data: a stack deletion must not take them
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "TableName": {"Fn::Sub": table.name("${%s}" % PREFIX)},
            "BillingMode": "PAY_PER_REQUEST",
            **key_schema(table.model),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "DeletionProtectionEnabled": True,
            # the real-time sockets' stream handler reads the rooms' new events; the code
            # gives every application's events table a stream (the webhooks' goes unread,
            # which costs nothing)
            **({"StreamSpecification": {"StreamViewType": STREAM_VIEW}}
               if table.model is EventItem and table.suffix.endswith("-events") else {}),
        },
    }


def table_arn(table: Table) -> dict:
    return {"Fn::GetAtt": [table.logical_id, "Arn"]}
