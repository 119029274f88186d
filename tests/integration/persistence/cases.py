"""eventsourcing's own recorder test cases, bound to a DynamoDB backend.

A test module subclasses these with a mixin naming the endpoint fixture. This
module's name keeps pytest from collecting the abstract cases themselves.
"""
from __future__ import annotations

import unittest
from uuid import uuid4

import pytest
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.tests import persistence as lib
from eventsourcing.utils import Environment

from chalicelib.persistence.dynamodb import (
    DynamoDBAggregateRecorder,
    DynamoDBApplicationRecorder,
    DynamoDBFactory,
    DynamoDBProcessRecorder,
    DynamoDBTrackingRecorder,
)

TOO_MANY_PER_CALL = (
    "inserts {n} events in one call: {items} items, over DynamoDB's limit of 100 "
    "actions per transaction (each event is an event item plus a notification item); "
    "the recorder refuses such a save with TransactionTooLargeError"
)


def backend_env(endpoint: str, **extra: str) -> dict[str, str]:
    """Settings for a factory on fresh tables (a unique prefix per call)."""
    return {
        "PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb",
        "DYNAMODB_TABLE_PREFIX": f"t{uuid4().hex[:12]}",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "CREATE_TABLE": "y",
        **extra,
    }


class Backend:
    """Mixin: ``endpoint_fixture`` names the session fixture of the DynamoDB to use."""

    endpoint_fixture = ""

    @pytest.fixture(autouse=True)
    def _backend(self, request):
        self.endpoint = request.getfixturevalue(self.endpoint_fixture)

    def env(self, **extra: str) -> dict[str, str]:
        return backend_env(self.endpoint, **extra)

    def factory(self, **extra: str) -> DynamoDBFactory:
        return InfrastructureFactory.construct(self.env(**extra))


class AggregateRecorder(Backend, lib.AggregateRecorderTestCase):
    def create_recorder(self):
        return self.factory().aggregate_recorder()


class SnapshotRecorder(Backend, lib.AggregateRecorderTestCase):
    def create_recorder(self):
        return self.factory().aggregate_recorder(purpose="snapshots")


class ApplicationRecorder(Backend, lib.ApplicationRecorderTestCase):
    def create_recorder(self):
        return self.factory().application_recorder()

    def test_insert_subscribe(self):
        self.optional_test_insert_subscribe()

    # the library's own case, skipped (``unittest.skip`` wraps it, the library's function
    # stays as it is); the 64-thread save race is tested in test_event_store_application.py
    test_concurrent_no_conflicts = unittest.skip(TOO_MANY_PER_CALL.format(n=100, items=200))(
        lib.ApplicationRecorderTestCase.test_concurrent_no_conflicts)


class TrackingRecorder(Backend, lib.TrackingRecorderTestCase):
    def create_recorder(self):
        return self.factory().tracking_recorder()


class ProcessRecorder(Backend, lib.ProcessRecorderTestCase):
    def create_recorder(self):
        return self.factory().process_recorder()


class NonInterleavingNotificationIDs(Backend, lib.NonInterleavingNotificationIDsBaseCase):
    # the library races two saves of 1,000 events each; a DynamoDB save holds at
    # most half as many events as a transaction holds actions, so the race runs with that
    def test(self):
        self.insert_num = 50
        super().test()

    def create_recorder(self):
        return self.factory().application_recorder()


class CustomTrackingRecorder(DynamoDBTrackingRecorder):
    pass


class Factory(Backend, lib.InfrastructureFactoryTestCase[DynamoDBFactory]):
    def setUp(self):
        self.env = Environment(env=Backend.env(self))
        super().setUp()

    def expected_factory_class(self):
        return DynamoDBFactory

    def expected_aggregate_recorder_class(self):
        return DynamoDBAggregateRecorder

    def expected_application_recorder_class(self):
        return DynamoDBApplicationRecorder

    def expected_tracking_recorder_class(self):
        return DynamoDBTrackingRecorder

    def tracking_recorder_subclass(self):
        return CustomTrackingRecorder

    def expected_process_recorder_class(self):
        return DynamoDBProcessRecorder
