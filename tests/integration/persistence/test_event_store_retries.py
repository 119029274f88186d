"""A save whose response is lost is retried by botocore; the retry must not look like a conflict."""
from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.persistence import InfrastructureFactory, StoredEvent, Tracking

from .cases import backend_env



def lose_first_response(recorder) -> list[int]:
    """Make botocore send each transaction twice, as when the first response is lost."""
    resent: list[int] = []

    def retry_once(attempts, response=None, **_):
        if attempts == 1 and response is not None and response[0].status_code == 200:
            resent.append(attempts)
            return 0  # retry now, though the first request succeeded
        return None

    events = recorder.datastore.connection.client.meta.events
    for operation in ("TransactWriteItems", "PutItem", "UpdateItem"):
        events.register_first(f"needs-retry.dynamodb.{operation}", retry_once)
    return resent


@pytest.mark.parametrize("recorder_kind", ["application_recorder", "aggregate_recorder"])
def test_a_resent_save_succeeds_once(dynamodb_endpoint, recorder_kind):
    env = backend_env(dynamodb_endpoint)
    recorder = getattr(InfrastructureFactory.construct(env), recorder_kind)()
    resent = lose_first_response(recorder)
    room = uuid4()
    recorder.insert_events([StoredEvent(room, 1, "t", b"1")])
    recorder.insert_events([StoredEvent(room, 2, "t", b"2"), StoredEvent(room, 3, "t", b"3")])
    assert len(resent) == 2  # each request really was sent twice
    assert [e.originator_version for e in recorder.select_events(room)] == [1, 2, 3]
    if recorder_kind == "application_recorder":
        assert [n.id for n in recorder.select_notifications(None, 10)] == [1, 2, 3]


def test_a_resent_tracking_position_is_recorded_once(dynamodb_endpoint):
    env = backend_env(dynamodb_endpoint)
    recorder = InfrastructureFactory.construct(env).tracking_recorder()
    resent = lose_first_response(recorder)
    recorder.insert_tracking(Tracking("upstream", 5))
    assert resent
    assert recorder.max_tracking_id("upstream") == 5
