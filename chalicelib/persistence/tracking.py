"""Tracking and process recorders: a downstream application's position, exactly once.

One item per upstream application holds the highest notification id processed. It
only moves forward (a DynamoDB condition), and a process recorder moves it in the
same transaction as the events it records.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import (
    IntegrityError,
    OperationalError,
    ProcessRecorder,
    Tracking,
    TrackingRecorder,
)

from .application import DynamoDBApplicationRecorder
from .items import TrackingItem, item_size
from .transact import Cancelled, Write, transact

if TYPE_CHECKING:
    from .datastore import DynamoDBDatastore


class DynamoDBTrackingRecorder(TrackingRecorder):
    """Positions of this application in the logs of the applications it follows."""

    def __init__(self, datastore: DynamoDBDatastore):
        self.datastore = datastore
        self.tracking = datastore.model(TrackingItem, "tracking")

    def create_table(self) -> None:
        self.datastore.create_table(self.tracking)

    def _tracking_write(self, tracking: Tracking) -> Write:
        item = self.tracking(tracking.application_name)
        n = self.tracking.notification_id
        condition = n.does_not_exist() | (n < tracking.notification_id)
        size = item_size({"a": tracking.application_name, "n": tracking.notification_id})
        return Write("tracking", item, condition, size, actions=[n.set(tracking.notification_id)])

    def insert_tracking(self, tracking: Tracking) -> None:
        # a transaction of one, for its idempotent retries (see DynamoDBAggregateRecorder)
        try:
            transact(self.datastore.connection, [self._tracking_write(tracking)])
        except Cancelled as c:
            if c.failed:
                raise IntegrityError(
                    f"{tracking.application_name} is already at or past notification "
                    f"{tracking.notification_id}") from c
            raise OperationalError(f"tracking not recorded: {c}") from c

    def max_tracking_id(self, application_name: str) -> int | None:
        try:
            item = self.tracking.get(application_name, consistent_read=True)
        except self.tracking.DoesNotExist:
            return None
        return int(item.notification_id)


class DynamoDBProcessRecorder(DynamoDBTrackingRecorder, DynamoDBApplicationRecorder, ProcessRecorder):
    """Events, their notifications and the tracking position, in one transaction."""

    def __init__(self, datastore: DynamoDBDatastore):
        DynamoDBApplicationRecorder.__init__(self, datastore)
        DynamoDBTrackingRecorder.__init__(self, datastore)

    def create_table(self) -> None:
        DynamoDBApplicationRecorder.create_table(self)
        DynamoDBTrackingRecorder.create_table(self)

    def _extra_writes(self, tracking: Tracking | None = None, **kwargs: Any) -> list[Write]:
        return [self._tracking_write(tracking)] if tracking is not None else []
