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
