"""The persistence module: ``PERSISTENCE_MODULE=chalicelib.persistence.dynamodb``.

Settings (each may be prefixed with the application's name, the library's way):
``DYNAMODB_TABLE_PREFIX`` (required), ``CREATE_TABLE`` (default yes),
``DYNAMODB_NOTIFICATION_SHARDS`` (default 1), ``DYNAMODB_POLL_INTERVAL`` (seconds,
default 0.2),
``DYNAMODB_MAX_POOL_CONNECTIONS`` (default 64), ``ORIGINATOR_ID_TYPE`` (``uuid`` or
``text``), ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``. See
docs/event-store.md.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import resolve_topic

from .aggregate import DynamoDBAggregateRecorder
from .application import DynamoDBApplicationRecorder, DynamoDBSubscription
from .datastore import DynamoDBDatastore
from .errors import ItemTooLargeError, TransactionTooLargeError
from .settings import DynamoDBSettings, creates_tables
from .tracking import DynamoDBProcessRecorder, DynamoDBTrackingRecorder

if TYPE_CHECKING:
    from eventsourcing.utils import Environment, EnvType

__all__ = [
    "DynamoDBAggregateRecorder", "DynamoDBApplicationRecorder", "DynamoDBFactory",
    "DynamoDBProcessRecorder", "DynamoDBSettings", "DynamoDBSubscription",
    "DynamoDBTrackingRecorder", "ItemTooLargeError", "TransactionTooLargeError",
]


class DynamoDBFactory(InfrastructureFactory[DynamoDBTrackingRecorder]):
    """Builds an application's recorders on its DynamoDB tables."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        self.settings = DynamoDBSettings.from_env(self.env)
        self.datastore = DynamoDBDatastore(self.settings, self.env.name)

    def _created(self, recorder):
        if creates_tables(self.env):
            recorder.create_table()
        return recorder

    def aggregate_recorder(self, purpose: str = "events") -> DynamoDBAggregateRecorder:
        return self._created(DynamoDBAggregateRecorder(self.datastore, purpose))

    def application_recorder(self) -> DynamoDBApplicationRecorder:
        cls = self._class(self.APPLICATION_RECORDER_TOPIC, DynamoDBApplicationRecorder)
        return self._created(cls(self.datastore))

    def tracking_recorder(self, tracking_recorder_class: type[DynamoDBTrackingRecorder] | None = None
                          ) -> DynamoDBTrackingRecorder:
        cls = tracking_recorder_class or self._class(self.TRACKING_RECORDER_TOPIC,
                                                     DynamoDBTrackingRecorder)
        return self._created(cls(self.datastore))

    def process_recorder(self) -> DynamoDBProcessRecorder:
        cls = self._class(self.PROCESS_RECORDER_TOPIC, DynamoDBProcessRecorder)
        return self._created(cls(self.datastore))

    def _class(self, key: str, default: type) -> type:
        topic = self.env.get(key)
        cls = resolve_topic(topic) if topic else default
        if not (isinstance(cls, type) and issubclass(cls, default)):
            raise TypeError(f"{key}={topic!r} is not a subclass of {default.__name__}")
        return cls

    def close(self) -> None:
        """botocore clients hold no resources that need closing."""
