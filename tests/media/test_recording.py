"""A host records the room into the customer's bucket: real aiortc speakers publish VP8
and Opus through a real node; the test plays the control plane (the events feed and the
destination) through the node's seams, and checks every file with ffprobe."""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import boto3
import pytest
from cryptography.fernet import Fernet

from media_node.storage.gcs import gcs_client
from tests.recording_checks import check_file

from .helpers import run, running_node, speaker_client, wait_for

pytestmark = pytest.mark.media
KEY = Fernet.generate_key().decode()
S3_CREDS = {"accessKeyId": "testing", "secretAccessKey": "testing"}


def sealed(credentials) -> str | None:
    return Fernet(KEY).encrypt(json.dumps(credentials).encode()).decode() \
        if credentials else None


def reports(n, recording_id: str) -> list[dict]:
    return [r for _, rid, r in n.node.control_plane.recording_reports if rid == recording_id]


def events(n, recording_id: str) -> list[str]:
    return [r["event"] for r in reports(n, recording_id)]


def publishing(n, participant: str, room: str = "r") -> bool:
    room_ = n.node.rooms.get(room)
    return room_ is not None and sum(
        s.publisher_id == participant and s.frames_in > 5 for s in room_.sources) == 2


async def event(n, seq: int, kind: str, room: str = "r", **data) -> None:
    """One event of the room's feed, as the control plane's long poll gives it."""
    await n.node.apply_room_event(room, {"seq": seq, "type": kind, "data": data})


def s3_destination(endpoint: str) -> tuple[dict, object, str]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"rec-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    return ({"type": "s3", "bucket": bucket, "region": "us-east-1", "prefix": "customer",
             "endpoint": endpoint, "forcePathStyle": True, "sealed": sealed(S3_CREDS)},
            client, bucket)


def test_per_track_recording_of_two_speakers_to_s3(s3_endpoint, tmp_path):
    destination, s3, bucket = s3_destination(s3_endpoint)
    spool = tmp_path / "spool"

    async def scenario():
        async with running_node(secrets_key=KEY, recording_dir=str(spool)) as n:
            n.node.control_plane.destinations["rec-1"] = destination
            alice = await speaker_client(n, "alice")
            assert await wait_for(lambda: publishing(n, "alice"), timeout=10)
            await event(n, 5, "RecordingStarted", recordingId="rec-1", output="per-track",
                        destinationId="dest-1")
            started = time.monotonic()
            assert await wait_for(lambda: "recording" in events(n, "rec-1"), timeout=10)

            # a late speaker: their own files, which reach the bucket when they leave
            await asyncio.sleep(1.0)
            bob = await speaker_client(n, "bob")
            assert await wait_for(lambda: publishing(n, "bob"), timeout=10)
            bob_from = time.monotonic()
            await event(n, 6, "ParticipantMuted", participantId="alice", video=True)
            await asyncio.sleep(1.0)  # alice's video pauses; its timeline must not shrink
            await event(n, 7, "ParticipantUnmuted", participantId="alice", video=True)
            await asyncio.sleep(1.0)
            await bob.close()
            bob_for = time.monotonic() - bob_from
            assert await wait_for(lambda: events(n, "rec-1").count("uploaded") == 2, timeout=15)

            await asyncio.sleep(1.0)
            await event(n, 9, "RecordingStopped", recordingId="rec-1", reason="stopped")
            recorded = time.monotonic() - started
            assert await wait_for(lambda: "completed" in events(n, "rec-1"), timeout=20)
            await alice.close()
            return reports(n, "rec-1"), recorded, bob_for

    got, recorded, bob_for = run(scenario())
    assert [r["event"] for r in got] == ["recording", "uploaded", "uploaded", "uploading",
                                         "uploaded", "uploaded", "completed"]
    files = got[-1]["files"]
    assert files == [r["file"] for r in got if r["event"] == "uploaded"]
    by_owner = {(f["participantId"], f["kind"]): f for f in files}
    assert set(by_owner) == {("alice", "audio"), ("alice", "video"), ("bob", "audio"),
                             ("bob", "video")}
    for (who, kind), entry in by_owner.items():
        assert entry["uri"].startswith(f"s3://{bucket}/customer/rec-1/{who}/{kind}-01.")
        key = entry["uri"].split("/", 3)[3]
        path = tmp_path / key.replace("/", "_")
        path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert entry["etag"] == s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        seconds = recorded if who == "alice" else bob_for
        check_file(path, entry, "vp8" if kind == "video" else "opus", seconds)
        assert entry["codecs"] == ["vp8" if kind == "video" else "opus"]
        assert entry["startedAt"] < entry["endedAt"]
    assert by_owner["alice", "audio"]["startSeq"] == 5
    assert by_owner["alice", "audio"]["endSeq"] == 9
    assert by_owner["bob", "audio"]["endSeq"] == 7
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert list(spool.iterdir()) == [], "no local copy remains after confirmed uploads"
