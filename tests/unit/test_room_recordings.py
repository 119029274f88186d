"""A room's recordings: the status machine, who may drive it, a room's close, a lost node."""

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain import SCHEDULER, Actor, Room
from chalicelib.domain import errors

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = Actor("api_key", "key-1")
NODE = Actor("node", "node-1")
FILE = {"uri": "s3://b/r/a.webm", "bytes": 10, "sha256": "0" * 64, "etag": "e",
        "durationSeconds": 1.5, "kind": "audio", "codecs": ["opus"], "participantId": "p",
        "startedAt": "2026-03-01T09:00:01Z", "endedAt": "2026-03-01T09:00:03Z",
        "startSeq": 3, "endSeq": 6}
FILE2 = {**FILE, "uri": "s3://b/r/b.webm"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def room(mode="SFU"):
    r = Room.create(KEY, at=T0, name="Podcast", persistent=True, policy={"mediaMode": mode})
    for identity, role in (("hugo", "host"), ("sam", "speaker")):
        r.join(Actor("participant", identity), participant_id=f"p-{identity}", call_id="c",
               identity=identity, role=role, at=at(1))
    r.assign_media_node(KEY, "node-1", "http://node", at=at(1))
    r.collect_events()
    return r


def started(r, rid="rec-1", output="per-track"):
    r.start_recording(Actor("participant", "hugo"), recording_id=rid, destination_id="d-1",
                      output=output, at=at(2))
    return r


def names(r):
    return [type(e).__name__ for e in r.collect_events()]


def report(r, event, **fields):
    r.report_recording(NODE, "rec-1", {"event": event, **fields}, at=at(10))


def test_a_recording_runs_from_start_to_completed_and_repeats_change_nothing():
    r = started(room())
    assert r.recording("rec-1")["status"] == "starting"
    report(r, "recording")
    report(r, "recording")
    report(r, "uploaded", file=FILE)
    report(r, "uploaded", file=FILE)
    r.stop_recording(KEY, "rec-1", at=at(5))
    r.stop_recording(KEY, "rec-1", at=at(6))
    report(r, "uploading")
    report(r, "uploading")
    report(r, "completed", files=[FILE, FILE2])
    report(r, "completed", files=[FILE, FILE2])
    assert names(r) == ["RecordingStarted", "RecordingWritingStarted", "RecordingUploaded",
                        "RecordingStopped", "RecordingUploadStarted", "RecordingCompleted"]
    rec = r.recording("rec-1")
    assert rec["status"] == "completed" and rec["files"] == [FILE, FILE2]


@pytest.mark.parametrize("steps, bad", [
    ([], ("uploading", {})),
    ([], ("completed", {"files": []})),
    (["recording"], ("completed", {"files": []})),
    (["recording", "stop", "completed"], ("failed", {"reason": "x", "files": []})),
    (["recording", "stop", "completed"], ("recording", {})),
    (["recording", "stop", "completed"], ("uploaded", {"file": FILE2})),
    (["recording", "fail"], ("completed", {"files": []})),
])
def test_reports_that_break_the_status_machine_are_refused(steps, bad):
    r = started(room())
    for step in steps:
        if step == "stop":
            r.stop_recording(KEY, "rec-1", at=at(5))
        elif step == "fail":
            report(r, "failed", reason="upload_failed", files=[])
        else:
            report(r, step, **({"files": []} if step == "completed" else {}))
    r.collect_events()
    with pytest.raises(errors.InvalidState) as caught:
        report(r, bad[0], **bad[1])
    assert caught.value.code == "invalid_recording_state" and names(r) == []


def test_never_two_terminal_states_and_a_file_reported_twice_differently_is_refused():
    r = started(room())
    report(r, "recording")
    report(r, "uploaded", file=FILE)
    with pytest.raises(errors.InvalidState):
        report(r, "uploaded", file={**FILE, "bytes": 11})
    report(r, "failed", reason="upload_failed", error="denied", files=[FILE])
    report(r, "failed", reason="upload_failed", error="denied", files=[FILE])  # repeated
    with pytest.raises(errors.InvalidState):
        report(r, "failed", reason="other", files=[FILE])
    assert [type(e).__name__ for e in r.collect_events()].count("RecordingFailed") == 1


def test_start_needs_a_host_an_sfu_room_and_no_running_recording_of_that_output():
    with pytest.raises(errors.InvalidState) as caught:
        started(room(mode="P2P"))
    assert caught.value.code == "not_sfu"
    r = started(room())
    with pytest.raises(errors.InvalidState) as caught:
        started(r, "rec-2")
    assert caught.value.code == "recording_in_progress"
    started(r, "rec-3", output="composite")  # another output may run beside it
    with pytest.raises(errors.NotAllowed):
        r.start_recording(Actor("participant", "sam"), recording_id="rec-4",
                          destination_id="d", output="composite", at=at(3))
    with pytest.raises(errors.RecordingNotFound):
        r.stop_recording(KEY, "nope", at=at(3))
    r.stop_recording(KEY, "rec-1", at=at(4))  # stopping: a new one of that output may start
    started(r, "rec-5")


def test_closing_the_room_stops_its_recordings_first():
    r = started(room())
    r.close(KEY, at=at(3))
    assert names(r) == ["RecordingStarted", "RecordingStopped", "RoomClosed"]
    rec = r.recording("rec-1")
    assert rec["status"] == "stopping"
    report(r, "uploading")  # the node still finishes its uploads in a closed room
    report(r, "completed", files=[FILE])
    assert r.recording("rec-1")["status"] == "completed"


def test_a_room_closed_by_its_schedule_stops_them_too():
    r = started(room())
    r.update_policy(KEY, {"autoClose": {"closeAt": at(30).isoformat()}}, at=at(3))
    r.collect_events()
    r.tick(at(31))
    events = r.collect_events()
    assert [type(e).__name__ for e in events] == ["RecordingStopped", "RoomClosed"]
    assert events[0].reason == "room_closed"


def test_a_lost_node_fails_the_recordings_it_was_working_on_with_their_files():
    r = started(room())
    started(r, "rec-2", output="composite")
    report(r, "recording")
    report(r, "uploaded", file=FILE)
    r.fail_recordings_of_lost_node({"node-1"}, at(20), SCHEDULER)  # alive
    r.collect_events()
    r.fail_recordings_of_lost_node({"node-2"}, at(40), SCHEDULER)
    events = r.collect_events()
    assert [(e.recording_id, e.reason, e.files) for e in events] == [
        ("rec-1", "node_lost", [FILE]), ("rec-2", "node_lost", [])]
    r.fail_recordings_of_lost_node(set(), at(50), SCHEDULER)
    assert names(r) == []


def test_a_failed_upload_may_be_retried_by_a_host_and_then_complete():
    r = started(room())
    with pytest.raises(errors.InvalidState):
        r.retry_upload(KEY, "rec-1", at=at(3))
    report(r, "failed", reason="upload_failed", error="503", files=[])
    r.retry_upload(KEY, "rec-1", at=at(11))
    assert r.recording("rec-1")["status"] == "uploading"
    report(r, "completed", files=[FILE])
    assert names(r)[-2:] == ["RecordingRetryRequested", "RecordingCompleted"]


def test_a_room_moved_off_its_dead_node_fails_what_that_node_was_recording():
    r = started(room())
    report(r, "recording")
    r.assign_media_node(KEY, "node-1", "http://node-1-new-url", at=at(20))  # same node
    assert names(r) == ["RecordingStarted", "RecordingWritingStarted", "MediaNodeAssigned"]
    r.assign_media_node(KEY, "node-2", "http://node-2", at=at(30))
    events = r.collect_events()
    assert [type(e).__name__ for e in events] == ["RecordingFailed", "MediaNodeAssigned"]
    assert (events[0].reason, r.recording("rec-1")["status"]) == ("node_lost", "failed")


DOWN = {"objects": [], "uploads": [], "error": "503 SlowDown", "retryable": True}
UPLOAD = {"key": "r/v.webm", "uploadId": "u-1", "parts": 1, "bytes": 9, "aborted": True}


def lost(r):
    r.fail_recordings_of_lost_node(set(), at(40), SCHEDULER)
    r.collect_events()
    return r


def sweep(r, found, attempt, seconds, last_chance=False):
    r.list_leftovers(SCHEDULER, "rec-1", found, attempt=attempt, last_chance=last_chance,
                     at=at(seconds))
    return [(e.status, e.attempts) for e in r.collect_events()]


def test_a_lost_nodes_sweep_is_recorded_when_its_outcome_changes_and_when_it_gives_up():
    r = lost(started(room()))
    assert [x["recording_id"] for x in r.recordings_to_sweep()] == ["rec-1"]
    assert sweep(r, DOWN, 1, 41) == [("retrying", 1)]
    assert sweep(r, DOWN, 2, 101) == []  # the same answer: not recorded
    assert sweep(r, {**DOWN, "error": "connection refused"}, 3, 221) == [("retrying", 3)]
    assert sweep(r, {**DOWN, "error": "connection refused"}, 4, 461, last_chance=True) == [
        ("gave_up", 4)]
    assert r.recordings_to_sweep() == []
    assert sweep(r, {"objects": [], "uploads": [UPLOAD], "error": None}, 5, 900) == []
    assert r.recording("rec-1")["leftovers"]["since"] == at(41)


def test_a_sweep_that_cannot_succeed_is_not_retried_and_a_later_one_keeps_what_was_found():
    r = lost(started(room()))
    assert sweep(r, {**DOWN, "uploads": [UPLOAD], "error": "AccessDenied",
                     "retryable": False}, 1, 41) == [("stopped", 1)]
    assert r.recordings_to_sweep() == []
    r = lost(started(room()))
    sweep(r, {**DOWN, "uploads": [UPLOAD]}, 1, 41)  # aborted one, then the store failed
    assert sweep(r, {"objects": [], "uploads": [], "error": None}, 2, 101) == [("swept", 2)]
    assert r.recording("rec-1")["leftovers"]["uploads"] == [UPLOAD]


def test_no_sweep_while_a_retry_upload_is_at_work():
    r = lost(started(room()))
    sweep(r, DOWN, 1, 41)
    r.retry_upload(KEY, "rec-1", at=at(50))
    r.collect_events()
    assert r.recordings_to_sweep() == [] and sweep(r, {**DOWN, "error": None}, 2, 101) == []
    report(r, "completed", files=[FILE])  # its node is done: what is left is leftovers
    r.collect_events()
    assert sweep(r, {**DOWN, "error": None}, 2, 101) == [("swept", 2)]


def test_the_sweep_schedule_doubles_up_to_its_cap_and_stops_at_attempts_or_deadline():
    from chalicelib.domain.leftovers import SweepSchedule

    s = SweepSchedule(first_delay=60, max_delay=3600, max_attempts=10, deadline=7200)
    assert [s.delay(n) for n in (1, 2, 3, 6, 7, 500)] == [60, 120, 240, 1920, 3600, 3600]
    assert s.due(0, at(0), at(0)) and not s.due(2, at(0), at(119)) and s.due(2, at(0), at(120))
    assert not s.last_chance(at(0), 3, at(420))
    assert s.last_chance(at(0), 10, at(500))  # attempts
    assert not s.last_chance(at(0), 6, at(5000))  # the next at 6920 s
    assert s.last_chance(at(0), 6, at(5400))  # the next would come after the deadline


def test_an_s3_error_is_retried_only_when_it_may_pass():
    from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

    from chalicelib.adapters.s3 import transient

    def answer(status, code):
        return ClientError({"Error": {"Code": code, "Message": "m"},
                            "ResponseMetadata": {"HTTPStatusCode": status}}, "ListObjectsV2")

    assert transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    assert transient(ReadTimeoutError(endpoint_url="http://127.0.0.1:9"))
    assert transient(answer(503, "SlowDown")) and transient(answer(500, "InternalError"))
    assert transient(answer(400, "RequestTimeout"))
    assert not transient(answer(404, "NoSuchBucket")) and not transient(answer(403, "AccessDenied"))
    assert not transient(ValueError("a bug"))
