"""What an application's recorders share: settings, one connection, the bound table models."""
from __future__ import annotations

import random
import threading
import time
from uuid import UUID

from eventsourcing.persistence import DataError, OperationalError
from pynamodb.connection import Connection
from pynamodb.models import Model

from .items import STREAMED_PURPOSE, bind, create_table
from .settings import DynamoDBSettings


class DynamoDBDatastore:
    """The tables of one application (``{prefix}-{application}-{purpose}``)."""

    MAX_ATTEMPTS = 200  # retries of a save that lost a race for notification ids

    def __init__(self, settings: DynamoDBSettings, application_name: str):
        self.settings = settings
        self.application_name = application_name
        self.connection = Connection(
            region=settings.endpoint.region, host=settings.endpoint.host,
            max_pool_connections=settings.endpoint.max_pool_connections)
        self._models: dict[tuple[type, str], type[Model]] = {}
        self._created: set[str] = set()
        self._lock = threading.Lock()

    def model(self, base: type[Model], purpose: str) -> type[Model]:
        """``base`` bound to this application's table for ``purpose``."""
        key = (base, purpose)
        with self._lock:
            if key not in self._models:
                name = self.settings.table_name(self.application_name, purpose)
                self._models[key] = bind(base, name, self.settings.endpoint,
                                         stream=purpose == STREAMED_PURPOSE)
            return self._models[key]

    def create_table(self, model: type[Model]) -> None:
        """Create a table once per datastore (the library calls this for every recorder)."""
        if model.Meta.table_name not in self._created:
            create_table(model)
            self._created.add(model.Meta.table_name)

    def key(self, originator_id: UUID | str) -> str:
        """The partition key of an aggregate's stream."""
        if self.settings.originator_id_type == "uuid":
            try:
                return str(originator_id if isinstance(originator_id, UUID)
                           else UUID(str(originator_id)))
            except ValueError:
                raise DataError(f"originator id {originator_id!r} is not a UUID "
                                "(set ORIGINATOR_ID_TYPE=text for text ids)") from None
        return str(originator_id)

    def originator_id(self, key: str) -> UUID | str:
        return UUID(key) if self.settings.originator_id_type == "uuid" else key

    def backoff(self, attempt: int, why: str) -> None:
        """Sleep before retry ``attempt`` (full jitter), or give up."""
        if attempt >= self.MAX_ATTEMPTS:
            raise OperationalError(f"gave up after {attempt} attempts: {why}")
        time.sleep(random.uniform(0, min(0.2, 0.002 * 2 ** min(attempt, 10))))
