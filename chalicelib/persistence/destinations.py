"""Where the control plane keeps its recording destinations.

``DynamoDBDestinationStore`` (pynamodb, ``<DYNAMODB_TABLE_PREFIX>-destinations``) serves
the API; ``InMemoryDestinationStore``, its twin in one process's memory, serves unit tests
and the in-memory store. Secrets arrive here already sealed.
"""
from __future__ import annotations

import json
import threading

from pynamodb.attributes import ListAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError
from pynamodb.models import Model

from chalicelib.domain.destinations import Destination

from .own_table import OwnTable
from .settings import DynamoDBSettings


class InMemoryDestinationStore:
    """Destinations in one process's memory."""

    def __init__(self) -> None:
        self._items: dict[str, Destination] = {}
        self._lock = threading.Lock()

    def save(self, destination: Destination) -> None:
        with self._lock:
            self._items[destination.destination_id] = destination

    def get(self, destination_id: str) -> Destination | None:
        return self._items.get(destination_id)

    def all(self) -> list[Destination]:
        return list(self._items.values())

    def delete(self, destination_id: str) -> bool:
        with self._lock:
            return self._items.pop(destination_id, None) is not None


class DestinationItem(Model):
    destination_id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute()
    settings = UnicodeAttribute()  # JSON
    created_at = UnicodeAttribute()
    secret_fields = ListAttribute(of=UnicodeAttribute, default=list)
    sealed = UnicodeAttribute(null=True)


class DynamoDBDestinationStore(OwnTable):
    """Destinations in a DynamoDB table of their own (``<prefix>-destinations``), one item
    per destination."""

    item = DestinationItem
    table_name = staticmethod(DynamoDBSettings.destinations_table_name)

    def save(self, destination: Destination) -> None:
        self._model(destination.destination_id, type=destination.type,
                    settings=json.dumps(destination.settings), created_at=destination.created_at,
                    secret_fields=list(destination.secret_fields),
                    sealed=destination.sealed).save()

    def get(self, destination_id: str) -> Destination | None:
        try:
            return _destination(self._model.get(destination_id, consistent_read=True))
        except self._model.DoesNotExist:
            return None

    def all(self) -> list[Destination]:
        # an account has a handful of destinations: a consistent scan is enough
        return [_destination(item) for item in self._model.scan(consistent_read=True)]

    def delete(self, destination_id: str) -> bool:
        try:
            self._model(destination_id).delete(
                condition=self._model.destination_id.exists())
        except DeleteError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _destination(item: DestinationItem) -> Destination:
    return Destination(destination_id=item.destination_id, type=item.type,
                       settings=json.loads(item.settings), created_at=item.created_at,
                       secret_fields=tuple(item.secret_fields or ()), sealed=item.sealed)
