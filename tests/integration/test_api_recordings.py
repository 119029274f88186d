"""Recordings through the HTTP handler, on the embedded DynamoDB.

A host records the call into the customer's bucket: it starts a recording, the room's
media node learns of it from its events feed, asks where to write (the secrets sealed),
reports what it does, and the room's history says what was written where.
"""
from __future__ import annotations

import json
from datetime import timedelta
from uuid import uuid4

import pytest
from cryptography.fernet import Fernet

from app import tick
from chalicelib import bootstrap
from chalicelib.api.node_tokens import mint_node_token
from tests.integration.api_support import Api, store_env

NODE_SECRET = "node-secret-" + "y" * 24
SECRETS_KEY = Fernet.generate_key().decode()
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"


def file(name, **extra):
    return {"uri": f"s3://recordings/rooms/{name}", "bytes": 1234, "sha256": "a" * 64,
            "etag": '"e1"', "durationSeconds": 12.5, "kind": "audio", "codecs": ["opus"],
            "participantId": "p-1", "startedAt": "2026-12-06T10:00:00Z",
            "endedAt": "2026-12-06T10:00:12.5Z", "startSeq": 4, "endSeq": 9, **extra}


@pytest.fixture(scope="module")
def module_api(dynamodb_endpoint):
    api = Api(store_env(dynamodb_endpoint), node_secret=NODE_SECRET, secrets_key=SECRETS_KEY)
    yield api
    api.close()


@pytest.fixture()
def api(module_api):
    module_api.clock.offset = timedelta()
    bootstrap.configure(node_registry=bootstrap.build_node_registry(module_api.env),
                        destination_store=bootstrap.build_destination_store(module_api.env))
    yield module_api


# what CloudWatch Events sends the scheduled tick
SCHEDULED = {"version": "0", "account": "123456789012", "region": "us-east-1", "detail": {},
             "detail-type": "Scheduled Event", "source": "aws.events",
             "time": "2026-12-06T10:00:00Z", "id": "e", "resources": []}


def node(node_id="node-1"):
    return mint_node_token(NODE_SECRET, node_id)


def beat(api, node_id="node-1"):
    api.ok("POST", f"/nodes/{node_id}/heartbeat", {
        "url": f"http://127.0.0.1:9/{node_id}", "rooms": 0, "participants": 0, "streams": 0,
        "cpu": 0.1, "capacity": 64}, token=node(node_id))


def destination(api):
    # a closed loopback port: the tick's sweep after node_lost never looks up a public name
    return api.ok("POST", "/destinations", {
        "type": "s3", "bucket": "recordings", "region": "eu-west-1", "prefix": "rooms/",
        "endpoint": "http://127.0.0.1:9",
        "credentials": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": SECRET}},
        status=201)["destinationId"]


def live_room(api):
    """An SFU room on node-1 with a joined host and a joined speaker."""
    beat(api)
    room = api.create_room(policy={"mediaMode": "SFU"})["id"]
    host, _ = api.join(room, "hugo", "host")
    speaker, _ = api.join(room, "sam", "speaker")
    return room, host, speaker


def start(api, room, token="admin", output="per-track", destination_id=None):
    return api.call("POST", f"/rooms/{room}/recordings",
                    {"destinationId": destination_id or destination(api), "output": output},
                    token=token)


def report(api, room, rid, body, token=None):
    return api.call("POST", f"/rooms/{room}/recordings/{rid}/report", body,
                    token=token or node())


def types(api, room, prefix="Recording"):
    return [e["type"] for e in api.events(room) if e["type"].startswith(prefix)]


def test_a_host_records_the_call_and_the_node_reports_what_it_wrote(api):
    room, host, speaker = live_room(api)
    did = destination(api)
    status, started = start(api, room, token=host, destination_id=did)
    assert status == 201 and started["status"] == "starting" and started["files"] == []
    rid = started["recordingId"]

    # the node sees the start on its feed and asks where to write
    feed = api.ok("GET", f"/rooms/{room}/events?limit=1000", token=node())["events"]
    assert [e["data"] for e in feed if e["type"] == "RecordingStarted"] == [
        {"recordingId": rid, "output": "per-track", "destinationId": did}]
    where = api.ok("GET", f"/rooms/{room}/recordings/{rid}/destination", token=node())
    assert {k: where[k] for k in ("type", "bucket", "region", "prefix")} == {
        "type": "s3", "bucket": "recordings", "region": "eu-west-1", "prefix": "rooms/"}
    assert SECRET not in json.dumps(where)
    assert json.loads(Fernet(SECRETS_KEY).decrypt(where["sealed"].encode())) == {
        "credentials": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": SECRET}}

    for body in ({"event": "recording"}, {"event": "recording"},
                 {"event": "uploaded", "file": file("a.webm")},
                 {"event": "uploaded", "file": file("a.webm")}):
        assert report(api, room, rid, body)[0] == 200
    assert api.ok("GET", f"/rooms/{room}/recordings/{rid}", token=host)["status"] == "recording"
    stopped = api.ok("POST", f"/rooms/{room}/recordings/{rid}/stop", token=host)
    assert stopped["status"] == "stopping"
    assert report(api, room, rid, {"event": "uploading"})[0] == 200
    manifest = [file("a.webm"), file("b.webm", kind="video", codecs=["vp8"])]
    for _ in range(2):  # a repeated report answers the same and records nothing
        status, done = report(api, room, rid, {"event": "completed", "files": manifest})
        assert status == 200 and done["status"] == "completed" and done["files"] == manifest

    assert types(api, room) == ["RecordingStarted", "RecordingWritingStarted",
                                "RecordingUploaded", "RecordingStopped",
                                "RecordingUploadStarted", "RecordingCompleted"]
    listed = api.ok("GET", f"/rooms/{room}/recordings")["recordings"]
    assert [(r["recordingId"], r["status"], r["output"], r["destinationId"])
            for r in listed] == [(rid, "completed", "per-track", did)]

    # a joined speaker hears that the call is recorded, not where to
    seen = [e for e in api.events_as(room, speaker) if e["type"].startswith("Recording")]
    assert [(e["type"], e["data"]) for e in seen] == [
        ("RecordingStarted", {"recordingId": rid, "output": "per-track"}),
        ("RecordingStopped", {"recordingId": rid, "reason": "stopped"}),
        ("RecordingCompleted", {"recordingId": rid})]
    assert api.error("GET", f"/rooms/{room}/recordings", token=speaker) == (403, "not_a_host")


def test_the_refusals(api):
    room, host, speaker = live_room(api)
    p2p = api.create_room(policy={"mediaMode": "P2P"})["id"]
    assert start(api, p2p)[1]["error"]["code"] == "not_sfu"
    assert start(api, room, destination_id="nope")[1]["error"]["code"] == "destination_not_found"
    assert start(api, room, token=speaker)[1]["error"]["code"] == "not_a_host"
    rid = start(api, room)[1]["recordingId"]
    status, body = start(api, room)
    assert (status, body["error"]["code"]) == (409, "recording_in_progress")
    assert start(api, room, output="composite")[0] == 201
    for method, path in (("GET", ""), ("POST", "/stop"), ("POST", "/retry-upload")):
        assert api.error(method, f"/rooms/{room}/recordings/nope{path}") == (
            404, "recording_not_found")
    assert report(api, room, "nope", {"event": "recording"})[1]["error"]["code"] == (
        "recording_not_found")
    status, body = report(api, room, rid, {"event": "completed", "files": []})
    assert (status, body["error"]["code"]) == (409, "invalid_recording_state")
    assert api.error("POST", f"/rooms/{room}/recordings/{rid}/retry-upload") == (
        409, "invalid_recording_state")
    beat(api, "node-2")
    assert report(api, room, rid, {"event": "recording"}, token=node("node-2"))[1][
        "error"]["code"] == "not_room_node"
    assert api.error("GET", f"/rooms/{room}/recordings/{rid}/destination",
                     token=node("node-2")) == (403, "not_room_node")
    assert api.error("POST", f"/rooms/{room}/recordings/{rid}/report",
                     {"event": "recording"}) == (403, "forbidden")
    assert api.error("POST", f"/rooms/{room}/recordings/{rid}/report",
                     {"event": "uploaded", "file": {**file("x"), "sha256": "z"}},
                     token=node()) == (422, "invalid_field")
    assert api.error("POST", f"/rooms/{room}/recordings", {"destinationId": "d",
                     "output": "mp3"}) == (422, "invalid_field")
    assert types(api, room) == ["RecordingStarted", "RecordingStarted"]


def test_closing_the_room_stops_its_recording_and_the_node_still_finishes(api):
    room, host, _ = live_room(api)
    rid = start(api, room, token=host)[1]["recordingId"]
    assert report(api, room, rid, {"event": "recording"})[0] == 200
    api.ok("POST", f"/rooms/{room}/close", token=host)
    stops = [e["data"] for e in api.events(room) if e["type"] == "RecordingStopped"]
    assert stops == [{"recordingId": rid, "reason": "room_closed"}]
    assert api.ok("GET", f"/rooms/{room}/recordings/{rid}")["status"] == "stopping"
    assert report(api, room, rid, {"event": "completed", "files": [file("a.webm")]})[0] == 200
    assert api.ok("GET", f"/rooms/{room}/recordings/{rid}")["status"] == "completed"


def test_a_node_that_stops_sending_heartbeats_fails_its_recordings_on_the_tick(
        api, s3_endpoint):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"lost-{uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    room, host, _ = live_room(api)
    did = api.ok("POST", "/destinations", {
        "type": "s3", "bucket": bucket, "region": "us-east-1", "prefix": "rooms/",
        "endpoint": s3_endpoint, "forcePathStyle": True,
        "credentials": {"accessKeyId": "testing", "secretAccessKey": SECRET}},
        status=201)["destinationId"]
    rid = start(api, room, token=host, destination_id=did)[1]["recordingId"]
    report(api, room, rid, {"event": "recording"})
    report(api, room, rid, {"event": "uploaded", "file": file("a.webm")})
    # what the node had in the bucket when it died: one file complete (reported), one
    # video file's multipart upload with a part sent, and nothing of another recording
    s3.put_object(Bucket=bucket, Key=f"rooms/{rid}/p-1/audio-01.webm", Body=b"a" * 1234)
    key = f"rooms/{rid}/p-1/video-01.webm"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=b"v" * 4096)
    other = s3.create_multipart_upload(Bucket=bucket, Key="rooms/other/x.webm")["UploadId"]

    api.clock.offset = timedelta(seconds=10)
    tick(SCHEDULED, None)  # heard from 10 s ago: alive
    assert api.ok("GET", f"/rooms/{room}/recordings/{rid}")["status"] == "recording"
    api.clock.offset = timedelta(seconds=31)
    tick(SCHEDULED, None)
    tick(SCHEDULED, None)  # once only
    failed = api.ok("GET", f"/rooms/{room}/recordings/{rid}")
    assert (failed["status"], failed["reason"]) == ("failed", "node_lost")
    assert failed["files"] == [file("a.webm")]
    assert failed["leftovers"] == {
        "objects": [{"key": f"rooms/{rid}/p-1/audio-01.webm", "bytes": 1234,
                     "etag": s3.head_object(Bucket=bucket, Key=f"rooms/{rid}/p-1/audio-01.webm")[
                         "ETag"].strip('"')}],
        "uploads": [{"key": key, "uploadId": upload_id, "parts": 1, "bytes": 4096,
                     "aborted": True}],
        "error": None, "status": "swept", "attempts": 1,
        "firstAttemptAt": failed["leftovers"]["recordedAt"],
        "recordedAt": failed["leftovers"]["recordedAt"]}
    # the abandoned upload no longer bills; another recording's is left alone
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [
        other]
    assert types(api, room, "RecordingFailed") == ["RecordingFailed"]
    assert types(api, room)[-2:] == ["RecordingFailed", "RecordingLeftoversListed"]
    assert SECRET not in json.dumps(api.events(room))
    # the node, back too late, cannot end it a second time
    status, body = report(api, room, rid, {"event": "completed", "files": [file("a.webm")]})
    assert (status, body["error"]["code"]) == (409, "invalid_recording_state")


def test_a_failed_upload_is_retried_at_a_hosts_request(api):
    room, host, _ = live_room(api)
    rid = start(api, room, token=host)[1]["recordingId"]
    report(api, room, rid, {"event": "recording"})
    api.ok("POST", f"/rooms/{room}/recordings/{rid}/stop", token=host)
    failed = report(api, room, rid, {"event": "failed", "reason": "upload_failed",
                                     "error": "AccessDenied: no", "files": []})[1]
    assert (failed["status"], failed["error"]) == ("failed", "AccessDenied: no")
    retried = api.ok("POST", f"/rooms/{room}/recordings/{rid}/retry-upload", token=host)
    assert retried["status"] == "uploading"
    feed = api.ok("GET", f"/rooms/{room}/events?limit=1000", token=node())["events"]
    assert {"recordingId": rid} in [e["data"] for e in feed
                                    if e["type"] == "RecordingRetryRequested"]
    assert report(api, room, rid, {"event": "completed", "files": [file("a.webm")]})[0] == 200
