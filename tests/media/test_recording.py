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


def gcs_destination(endpoint: str) -> tuple[dict, callable]:
    bucket = gcs_client("test", endpoint, None).create_bucket(f"rec-{uuid.uuid4().hex[:10]}")
    return ({"type": "gcs", "bucket": bucket.name, "prefix": "podcasts", "endpoint": endpoint,
             "sealed": None}, lambda key: bucket.blob(key).download_as_bytes())


def azure_destination(endpoint: str) -> tuple[dict, callable]:
    from media_node.storage.azure import azure_service
    from tests.storage_servers import AZURITE_ACCOUNT, AZURITE_KEY
    service = azure_service(AZURITE_ACCOUNT, endpoint, {"accountKey": AZURITE_KEY})
    container = f"rec-{uuid.uuid4().hex[:10]}"
    service.create_container(container)
    return ({"type": "azure", "account": AZURITE_ACCOUNT, "container": container,
             "prefix": "podcasts", "endpoint": endpoint,
             "sealed": sealed({"accountKey": AZURITE_KEY})},
            lambda key: service.get_blob_client(container, key).download_blob().readall())


async def audio_speaker(n, participant: str):
    from media_node_dev.sources import EncodedAudioSource
    client = n.client("r", participant, "speaker")
    client.audio = EncodedAudioSource()
    client.publish(client.audio)
    await client.connect()
    return client


@pytest.mark.parametrize("store", ["gcs", "azure"])
def test_an_audio_room_closed_mid_recording_gives_opus_files_a_rejoin_a_new_one(
        store, request, tmp_path):
    endpoint = request.getfixturevalue({"gcs": "gcs_endpoint", "azure": "azurite_endpoint"}[store])
    destination, read = (gcs_destination if store == "gcs" else azure_destination)(endpoint)

    async def scenario():
        async with running_node(secrets_key=KEY, recording_dir=str(tmp_path / "spool")) as n:
            n.node.control_plane.destinations["rec-a"] = destination
            host = await audio_speaker(n, "host")
            await event(n, 1, "RecordingStarted", recordingId="rec-a", output="per-track",
                        destinationId="d")
            started = time.monotonic()
            guest = await audio_speaker(n, "guest")
            assert await wait_for(lambda: any(s.publisher_id == "guest" and s.frames_in > 5
                                              for s in n.node.rooms["r"].sources), timeout=10)
            first_from = time.monotonic()
            await asyncio.sleep(1.0)
            await guest.close()  # leaves ...
            first_for = time.monotonic() - first_from
            guest = await audio_speaker(n, "guest")  # ... and comes back: a new file
            assert await wait_for(lambda: any(s.publisher_id == "guest" and s.frames_in > 5
                                              for s in n.node.rooms["r"].sources), timeout=10)
            second_from = time.monotonic()
            await asyncio.sleep(1.5)
            await event(n, 4, "RoomClosed")  # stops the recording by itself
            second_for = time.monotonic() - second_from
            recorded = time.monotonic() - started
            assert "completed" in events(n, "rec-a")
            for client in (host, guest):
                await client.close(hang_up=False)
            return reports(n, "rec-a")[-1]["files"], recorded, first_for, second_for

    files, recorded, first_for, second_for = run(scenario())
    names = sorted(f["uri"].rsplit("/rec-a/", 1)[1] for f in files)
    assert names == ["guest/audio-01.webm", "guest/audio-02.webm", "host/audio-01.webm"]
    seconds = {"host/audio-01.webm": recorded, "guest/audio-01.webm": first_for,
               "guest/audio-02.webm": second_for}
    for entry in files:
        name = entry["uri"].rsplit("/rec-a/", 1)[1]
        path = tmp_path / name.replace("/", "_")
        path.write_bytes(read(f"podcasts/rec-a/{name}"))
        check_file(path, entry, "opus", seconds[name])
        assert entry["kind"] == "audio" and entry["startSeq"] == 1
        assert entry["endSeq"] == (1 if name == "guest/audio-01.webm" else 4)


def test_a_bucket_that_refuses_fails_the_recording_and_nothing_else(s3_endpoint, tmp_path):
    destination, _, _ = s3_destination(s3_endpoint)
    destination = {**destination, "bucket": "no-such-bucket"}

    async def scenario():
        async with running_node(secrets_key=KEY, recording_dir=str(tmp_path / "spool")) as n:
            n.node.control_plane.destinations["rec-x"] = destination
            speaker = await speaker_client(n, "alice")
            assert await wait_for(lambda: publishing(n, "alice"), timeout=10)
            await event(n, 1, "RecordingStarted", recordingId="rec-x", output="per-track",
                        destinationId="d")
            assert await wait_for(lambda: "failed" in events(n, "rec-x"), timeout=15)
            frames = sum(s.frames_in for s in n.node.rooms["r"].sources)
            assert await wait_for(
                lambda: sum(s.frames_in for s in n.node.rooms["r"].sources) > frames + 30)
            assert "alice" in n.node.rooms["r"].sessions
            await speaker.close()
            return reports(n, "rec-x")

    got = run(scenario())
    assert [r["event"] for r in got] == ["failed"]
    assert got[0]["reason"] == "destination_refused" and got[0]["files"] == []
    assert "NoSuchBucket" in got[0]["error"] and "testing" not in got[0]["error"]
    assert list((tmp_path / "spool").iterdir()) == []


class Outage:
    """Makes every S3 upload call of the node's uploaders fail while ``down``."""

    def __init__(self) -> None:
        self.down = True
        self.failed = 0

    def __call__(self, **kwargs):
        if self.down:
            self.failed += 1
            from botocore.exceptions import EndpointConnectionError
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1 (outage)")


def test_an_upload_that_keeps_failing_stays_on_disk_and_retry_upload_sends_it(
        s3_endpoint, tmp_path):
    from media_node.storage.base import RetryPolicy
    from media_node.storage.destinations import uploader_for

    destination, s3, bucket = s3_destination(s3_endpoint)
    outage = Outage()

    def make_uploader(dest, credentials):
        uploader = uploader_for(dest, credentials, RetryPolicy(3, 0.05, 0.1))
        for operation in ("UploadPart", "CompleteMultipartUpload"):
            uploader.client.meta.events.register(f"before-send.s3.{operation}", outage)
        return uploader

    async def scenario():
        async with running_node(secrets_key=KEY, recording_dir=str(tmp_path / "spool")) as n:
            n.node.control_plane.destinations["rec-f"] = destination
            n.node.recordings.make_uploader = make_uploader
            speaker = await audio_speaker(n, "alice")
            await event(n, 1, "RecordingStarted", recordingId="rec-f", output="per-track",
                        destinationId="d")
            assert await wait_for(lambda: "recording" in events(n, "rec-f"), timeout=10)
            await asyncio.sleep(1.5)
            await event(n, 2, "RecordingStopped", recordingId="rec-f", reason="stopped")
            assert await wait_for(lambda: "failed" in events(n, "rec-f"), timeout=15)
            failed = reports(n, "rec-f")[-1]
            kept = failed["error"].split("kept on the node at ")[1]
            assert (tmp_path / "spool" / kept.rsplit("/", 1)[1]).exists()
            assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

            outage.down = False  # the store is back
            await event(n, 3, "RecordingRetryRequested", recordingId="rec-f")
            assert await wait_for(lambda: "completed" in events(n, "rec-f"), timeout=15)
            await speaker.close()
            return failed, reports(n, "rec-f")

    failed, got = run(scenario())
    assert outage.failed >= 3
    assert failed["reason"] == "upload_failed" and "outage" in failed["error"]
    assert failed["files"] == []
    assert [r["event"] for r in got] == ["recording", "uploading", "failed", "uploaded",
                                         "completed"]
    entry = got[-1]["files"][0]
    key = entry["uri"].split("/", 3)[3]
    path = tmp_path / "alice.webm"
    path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert check_file(path, entry, "opus", entry["durationSeconds"])
    assert list((tmp_path / "spool").iterdir()) == [], "no local copy after the retry"


def test_an_h264_speaker_is_recorded_into_matroska(s3_endpoint, tmp_path):
    from aiortc import RTCRtpSender

    from media_node_dev.sources import EncodedVideoSource

    destination, s3, bucket = s3_destination(s3_endpoint)

    async def scenario():
        async with running_node(secrets_key=KEY, recording_dir=str(tmp_path / "spool")) as n:
            n.node.control_plane.destinations["rec-h"] = destination
            speaker = n.client("r", "alice", "speaker")
            speaker.publish(EncodedVideoSource(codec_name="h264"))
            h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs
                    if c.mimeType == "video/H264"]
            speaker.pc.getTransceivers()[0].setCodecPreferences(h264)
            await speaker.connect()
            assert await wait_for(lambda: any(s.frames_in > 5 for s in n.node.rooms["r"].sources),
                                  timeout=10)
            assert n.node.rooms["r"].sources[0].mime_type == "video/H264"
            await event(n, 1, "RecordingStarted", recordingId="rec-h", output="per-track",
                        destinationId="d")
            started = time.monotonic()
            await asyncio.sleep(2.5)
            await event(n, 2, "RecordingStopped", recordingId="rec-h", reason="stopped")
            recorded = time.monotonic() - started
            assert await wait_for(lambda: "completed" in events(n, "rec-h"), timeout=15)
            await speaker.close()
            return reports(n, "rec-h")[-1]["files"], recorded

    files, recorded = run(scenario())
    [entry] = files
    assert entry["uri"].endswith("/rec-h/alice/video-01.mkv") and entry["codecs"] == ["h264"]
    key = entry["uri"].split("/", 3)[3]
    path = tmp_path / "alice.mkv"
    path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    check_file(path, entry, "h264", recorded)
