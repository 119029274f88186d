"""A store in a DynamoDB table of its own, beside the event store's tables.

The node registry, the recording destinations and the sockets are operational state, one item per
thing, in ``<DYNAMODB_TABLE_PREFIX>-<name>``; this builds the bound pynamodb model.
"""
from __future__ import annotations

from eventsourcing.utils import Environment
from pynamodb.models import Model

from .items import Endpoint, bind, create_table
from .settings import DynamoDBSettings, creates_tables


class OwnTable:
    """Subclasses name their ``item`` model and their ``table_name`` rule.

    :param table_name: the table's whole name.
    :param endpoint: region, optional local endpoint, pool size.
    :param create: create the table if it does not exist (``CREATE_TABLE``).
    """

    item: type[Model]

    def __init__(self, table_name: str, endpoint: Endpoint, create: bool = False) -> None:
        self._model = bind(self.item, table_name, endpoint)
        if create:
            create_table(self._model)

    @staticmethod
    def table_name(settings: DynamoDBSettings) -> str:
        raise NotImplementedError

    @classmethod
    def from_env(cls, env: Environment):
        """Beside the event store: its table prefix, endpoint, pool size and ``CREATE_TABLE``."""
        settings = DynamoDBSettings.from_env(env)
        return cls(cls.table_name(settings), settings.endpoint, create=creates_tables(env))
