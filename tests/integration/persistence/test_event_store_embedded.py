"""eventsourcing's recorder test cases on the embedded DynamoDB (``devstack.dynamodb``)."""
from . import cases


class Embedded:
    endpoint_fixture = "dynamodb_endpoint"


class TestAggregateRecorder(Embedded, cases.AggregateRecorder):
    pass


class TestSnapshotRecorder(Embedded, cases.SnapshotRecorder):
    pass


class TestApplicationRecorder(Embedded, cases.ApplicationRecorder):
    pass


class TestTrackingRecorder(Embedded, cases.TrackingRecorder):
    pass


class TestProcessRecorder(Embedded, cases.ProcessRecorder):
    pass


class TestNonInterleaving(Embedded, cases.NonInterleavingNotificationIDs):
    pass


class TestFactory(Embedded, cases.Factory):
    pass
