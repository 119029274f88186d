"""eventsourcing's recorder test cases on DynamoDB served by moto."""
from . import cases


class Moto:
    endpoint_fixture = "moto_endpoint"
    isolated = False


class TestAggregateRecorderOnMoto(Moto, cases.AggregateRecorder):
    pass


class TestSnapshotRecorderOnMoto(Moto, cases.SnapshotRecorder):
    pass


class TestApplicationRecorderOnMoto(Moto, cases.ApplicationRecorder):
    pass


class TestTrackingRecorderOnMoto(Moto, cases.TrackingRecorder):
    pass


class TestProcessRecorderOnMoto(Moto, cases.ProcessRecorder):
    pass


class TestNonInterleavingOnMoto(Moto, cases.NonInterleavingNotificationIDs):
    pass


class TestFactoryOnMoto(Moto, cases.Factory):
    pass
