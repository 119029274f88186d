"""The sweep of a lost node's leftovers, retried: the scheduled tick against moto's S3
server behind ``tests/flaky_s3.py``, through the HTTP handler on the embedded DynamoDB.

A node dies mid-recording while the customer's store sheds load: the tick fails the
recording ``node_lost`` and cannot list the bucket. Later ticks try again on the
schedule, quietly while the answer stays the same, until the store is back and the
unfinished upload is aborted; a destination deleted meanwhile is not tried again, and
a store that never comes back is given up on, once.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import boto3
import pytest

from app import tick
from chalicelib import bootstrap
from chalicelib.api.node_tokens import mint_node_token
from tests.flaky_s3 import FlakyS3Proxy
from tests.integration.api_support import api_with_nodes

NODE_SECRET = "node-secret-" + "z" * 24
SCHEDULED = {"version": "0", "account": "123456789012", "region": "us-east-1", "detail": {},
             "detail-type": "Scheduled Event", "source": "aws.events",
             "time": "2026-12-06T10:00:00Z", "id": "e", "resources": []}


@pytest.fixture(scope="module")
def api(dynamodb_endpoint):
    with api_with_nodes(dynamodb_endpoint, NODE_SECRET) as api:
        yield api


@pytest.fixture()
def store(s3_endpoint):
    """moto's S3 behind the flaky proxy, a bucket of this test's own, a boto3 client."""
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"sweep-{uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    with FlakyS3Proxy(s3_endpoint) as proxy:
        yield proxy, s3, bucket


def at(api, seconds: float) -> None:
    """The control plane's clock, ``seconds`` after the test's start; and a tick."""
    api.clock.offset = timedelta(seconds=seconds)
    tick(SCHEDULED, None)


def requests(proxy) -> int:
    return proxy.seen["part"] + proxy.seen["other"]


def lost_recording(api, proxy, s3, bucket):
    """A room recorded to the proxied bucket on node-1, whose node left an upload with
    a part in it; the node's last heartbeat is at the test's start."""
    api.clock.offset = timedelta()
    node = mint_node_token(NODE_SECRET, "node-1")
    api.ok("POST", "/nodes/node-1/heartbeat", {"url": "http://127.0.0.1:9/n", "rooms": 0,
           "participants": 0, "streams": 0, "cpu": 0.1, "capacity": 64}, token=node)
    room = api.create_room(policy={"mediaMode": "SFU"})["id"]
    host, _ = api.join(room, "hugo", "host")
    did = api.ok("POST", "/destinations", {
        "type": "s3", "bucket": bucket, "region": "us-east-1", "prefix": "rooms/",
        "endpoint": proxy.url, "forcePathStyle": True,
        "credentials": {"accessKeyId": "testing", "secretAccessKey": "testing-secret"}},
        status=201)["destinationId"]
    rid = api.ok("POST", f"/rooms/{room}/recordings",
                 {"destinationId": did, "output": "per-track"}, token=host)["recordingId"]
    api.ok("POST", f"/rooms/{room}/recordings/{rid}/report", {"event": "recording"},
           token=node)
    key = f"rooms/{rid}/p-1/video-01.webm"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=2, Body=b"v" * 4096)
    return room, did, rid, key, upload


def sweeps(api, room):
    """The room's ``RecordingLeftoversListed`` events: (status, attempts, error?)."""
    return [(e["data"]["status"], e["data"]["attempts"], bool(e["data"]["error"]))
            for e in api.events(room) if e["type"] == "RecordingLeftoversListed"]


def test_a_sweep_the_store_refused_is_retried_until_the_upload_is_aborted(api, store):
    proxy, s3, bucket = store
    room, _, rid, key, upload = lost_recording(api, proxy, s3, bucket)
    proxy.down = True  # 503 SlowDown to everything

    at(api, 31)  # silent 31 s: node_lost, and the first sweep fails
    recording = api.ok("GET", f"/rooms/{room}/recordings/{rid}")
    assert (recording["status"], recording["reason"]) == ("failed", "node_lost")
    first = recording["leftovers"]
    assert (first["status"], first["attempts"], first["uploads"]) == ("retrying", 1, [])
    assert "SlowDown" in first["error"]
    assert sweeps(api, room) == [("retrying", 1, True)]
    tried = requests(proxy)

    at(api, 31 + 50)  # the next attempt is 60 s after the first
    assert requests(proxy) == tried
    at(api, 31 + 61)  # due, the store still down: tried, and nothing new recorded
    assert requests(proxy) > tried
    assert sweeps(api, room) == [("retrying", 1, True)]

    proxy.down = False
    at(api, 31 + 61 + 100)  # the next is 120 s after the second
    assert sweeps(api, room) == [("retrying", 1, True)]
    at(api, 31 + 61 + 121)
    assert sweeps(api, room) == [("retrying", 1, True), ("swept", 3, False)]
    swept = api.ok("GET", f"/rooms/{room}/recordings/{rid}")["leftovers"]
    assert swept["uploads"] == [{"key": key, "uploadId": upload, "parts": 1, "bytes": 4096,
                                 "aborted": True}]
    assert (swept["status"], swept["error"], swept["attempts"]) == ("swept", None, 3)
    assert swept["firstAttemptAt"] == first["recordedAt"] < swept["recordedAt"]
    assert s3.list_multipart_uploads(Bucket=bucket, Prefix="rooms/").get("Uploads") is None
    assert api.ok("GET", f"/rooms/{room}/recordings/{rid}")["status"] == "failed"

    tried = requests(proxy)
    at(api, 31 + 61 + 121 + 5 * 3600)  # swept: never again
    assert requests(proxy) == tried and len(sweeps(api, room)) == 2


def test_a_destination_deleted_meanwhile_is_not_swept_again(api, store):
    proxy, s3, bucket = store
    room, did, rid, key, upload = lost_recording(api, proxy, s3, bucket)
    proxy.down = True
    at(api, 31)
    assert sweeps(api, room) == [("retrying", 1, True)]
    api.ok("DELETE", f"/destinations/{did}", status=(200, 204))

    at(api, 31 + 61)
    leftovers = api.ok("GET", f"/rooms/{room}/recordings/{rid}")["leftovers"]
    assert (leftovers["status"], leftovers["error"]) == (
        "stopped", "the destination was deleted")
    proxy.down = False
    for hours in (1, 5, 24):
        at(api, 31 + hours * 3600)
    assert sweeps(api, room) == [("retrying", 1, True), ("stopped", 2, True)]
    # the upload is the customer's to abort now (or the bucket's lifecycle rule's)
    assert [u["UploadId"] for u in s3.list_multipart_uploads(
        Bucket=bucket, Prefix="rooms/")["Uploads"]] == [upload]


def test_a_store_that_never_comes_back_is_given_up_on_once(api, store):
    proxy, s3, bucket = store
    settings = replace(api.settings, recording_sweep_retry_base=10.0,
                       recording_sweep_attempts=3)
    bootstrap.configure(settings=settings, node_registry=bootstrap.node_registry(),
                        destination_store=bootstrap.destination_store())
    try:
        room, _, rid, _, _ = lost_recording(api, proxy, s3, bucket)
        proxy.down = True
        for seconds in (31, 31 + 11, 31 + 11 + 21):  # 10 s, then 20 s between sweeps
            at(api, seconds)
        assert sweeps(api, room) == [("retrying", 1, True), ("gave_up", 3, True)]
        tried = requests(proxy)
        at(api, 31 + 24 * 3600)
        assert requests(proxy) == tried
        leftovers = api.ok("GET", f"/rooms/{room}/recordings/{rid}")["leftovers"]
        assert (leftovers["status"], leftovers["attempts"]) == ("gave_up", 3)
        assert "SlowDown" in leftovers["error"]
    finally:
        bootstrap.configure(settings=api.settings, node_registry=bootstrap.node_registry(),
                            destination_store=bootstrap.destination_store())
