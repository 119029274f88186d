"""A recording whose S3 endpoint misbehaves: a real node, real aiortc speakers, and moto's
S3 server behind a proxy on 127.0.0.1 that fails on purpose (``tests/flaky_s3.py``).

- The first part uploads fail (``503 SlowDown``), then the store recovers: the node
  retries with backoff and the recording completes, every file whole.
- The store goes down at stop: the files stay on the node's disk, the failure says where
  and which multipart uploads could not be aborted yet; once the store is back,
  ``retry-upload`` aborts those, uploads the files, and no local copy remains.
- A node stopped mid-recording (per-track files, or a composite) restarts on the same
  disk: the files are finished from their spools (a composite's whole fragments), the
  run is reported ``node_lost``, and ``retry-upload`` sends them.
"""
from __future__ import annotations

import asyncio
import os
import time

import pytest

from media_node.control.client import StandaloneControlPlane
from media_node.storage.base import RetryPolicy
from media_node.storage.destinations import uploader_for
from tests.flaky_s3 import FlakyS3Proxy
from tests.recording_checks import check_file

from .helpers import run, running_node, speaker_client, wait_for
from .test_recording import KEY, event, events, publishing, reports, s3_destination

pytestmark = pytest.mark.media
CODECS = {"audio": "opus", "video": "vp8"}


def download(s3, bucket: str, entry: dict, folder) -> object:
    key = entry["uri"].split("/", 3)[3]
    path = folder / key.replace("/", "_")
    path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return path


async def alice_recorded(n, rid: str, destination: dict, output: str = "per-track"):
    """Alice speaks (VP8 and Opus) and ``rid`` records her (``output``) until stopped;
    her client, and when the recording started."""
    n.node.control_plane.destinations[rid] = destination
    alice = await speaker_client(n, "alice")
    assert await wait_for(lambda: publishing(n, "alice"), timeout=10)
    await event(n, 1, "RecordingStarted", recordingId=rid, output=output,
                destinationId="d")
    started = time.monotonic()
    assert await wait_for(lambda: "recording" in events(n, rid), timeout=10)
    return alice, started


def test_part_uploads_that_fail_at_first_are_retried_and_the_recording_completes(
        s3_endpoint, tmp_path):
    with FlakyS3Proxy(s3_endpoint, fail_parts=3) as proxy:
        destination, s3, bucket = s3_destination(s3_endpoint)
        destination = {**destination, "endpoint": proxy.url}
        spool = tmp_path / "spool"

        async def scenario():
            async with running_node(secrets_key=KEY, recording_dir=str(spool)) as n:
                alice, started = await alice_recorded(n, "rec-r", destination)
                await asyncio.sleep(2.0)
                await event(n, 2, "RecordingStopped", recordingId="rec-r", reason="stopped")
                recorded = time.monotonic() - started
                # three failures cost 0.5 + 1 + 2 s of backoff at most
                assert await wait_for(lambda: {"completed", "failed"} & set(events(n, "rec-r")),
                                      timeout=30)
                await alice.close()
                return reports(n, "rec-r"), recorded

        got, recorded = run(scenario())
        failed_parts = proxy.seen["part_failed"]
    assert [r["event"] for r in got] == ["recording", "uploading", "uploaded", "uploaded",
                                         "completed"], got[-1]
    assert failed_parts == 3
    files = got[-1]["files"]
    assert sorted((f["participantId"], f["kind"]) for f in files) == [
        ("alice", "audio"), ("alice", "video")]
    for entry in files:
        check_file(download(s3, bucket, entry, tmp_path), entry, CODECS[entry["kind"]],
                   recorded)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert list(spool.iterdir()) == [], "no local copy remains after confirmed uploads"


def test_a_store_down_at_stop_keeps_the_files_and_retry_upload_sends_them_once_it_is_back(
        s3_endpoint, tmp_path):
    def make_uploader(dest, credentials):  # quick retries: the outage outlasts them anyway
        return uploader_for(dest, credentials, RetryPolicy(3, 0.05, 0.1))

    with FlakyS3Proxy(s3_endpoint) as proxy:
        destination, s3, bucket = s3_destination(s3_endpoint)
        destination = {**destination, "endpoint": proxy.url}
        spool = tmp_path / "spool"

        async def scenario():
            async with running_node(secrets_key=KEY, recording_dir=str(spool)) as n:
                n.node.recordings.make_uploader = make_uploader
                alice, _ = await alice_recorded(n, "rec-d", destination)
                await asyncio.sleep(2.0)
                proxy.down = True  # the store goes away; the node keeps recording to disk
                await event(n, 2, "RecordingStopped", recordingId="rec-d", reason="stopped")
                assert await wait_for(lambda: "failed" in events(n, "rec-d"), timeout=30)
                failed = reports(n, "rec-d")[-1]
                kept = sorted(p.name for p in spool.iterdir())
                left = [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket)
                        .get("Uploads", [])]

                proxy.down = False  # the store is back; a host asks for the upload
                await event(n, 3, "RecordingRetryRequested", recordingId="rec-d")
                assert await wait_for(lambda: "completed" in events(n, "rec-d"), timeout=30)
                await alice.close()
                return failed, kept, left, reports(n, "rec-d")

        failed, kept, left, got = run(scenario())
    assert failed["reason"] == "upload_failed" and "SlowDown" in failed["error"]
    assert failed["files"] == []
    assert kept[0] == "rec-d.kept.json"  # the note a restarted node would read
    assert len(kept) == 3 and all(name in failed["error"] for name in kept[1:])
    # the multipart uploads the outage kept from being aborted are listed in the failure
    assert len(left) == 2 and all(key in failed["error"] for key in left)
    assert "not aborted yet" in failed["error"]
    assert [r["event"] for r in got] == ["recording", "uploading", "failed", "uploaded",
                                         "uploaded", "completed"]
    for entry in got[-1]["files"]:
        path = download(s3, bucket, entry, tmp_path)
        check_file(path, entry, CODECS[entry["kind"]], entry["durationSeconds"])
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == [], \
        "the abandoned uploads were aborted at retry-upload"
    assert list(spool.iterdir()) == [], "no local copy after the retry"


def test_retry_upload_after_the_node_restarts_sends_what_it_kept_on_disk(
        s3_endpoint, tmp_path):
    def make_uploader(dest, credentials):
        return uploader_for(dest, credentials, RetryPolicy(3, 0.05, 0.1))

    with FlakyS3Proxy(s3_endpoint) as proxy:
        destination, s3, bucket = s3_destination(s3_endpoint)
        destination = {**destination, "endpoint": proxy.url}
        spool = tmp_path / "spool"

        async def first_run():  # records; the store is down at stop; the node goes away
            async with running_node(secrets_key=KEY, recording_dir=str(spool)) as n:
                n.node.recordings.make_uploader = make_uploader
                alice, _ = await alice_recorded(n, "rec-n", destination)
                bob = await speaker_client(n, "bob")
                assert await wait_for(lambda: publishing(n, "bob"), timeout=10)
                await asyncio.sleep(1.0)
                await bob.close()  # bob's files reach the bucket before the outage
                assert await wait_for(lambda: events(n, "rec-n").count("uploaded") == 2,
                                      timeout=15)
                proxy.down = True
                await event(n, 2, "RecordingStopped", recordingId="rec-n", reason="stopped")
                assert await wait_for(lambda: "failed" in events(n, "rec-n"), timeout=30)
                await alice.close()
                return reports(n, "rec-n")

        async def second_run():  # the same disk; the store is back; a host retries
            async with running_node(secrets_key=KEY, recording_dir=str(spool)) as n:
                n.node.control_plane.destinations["rec-n"] = {
                    **destination, "recordingStatus": "uploading"}
                assert "rec-n" in n.node.recordings.active
                await event(n, 3, "RecordingRetryRequested", recordingId="rec-n")
                assert await wait_for(lambda: "completed" in events(n, "rec-n"), timeout=30)
                return reports(n, "rec-n")

        before = run(first_run())
        left_on_disk = sorted(p.name for p in spool.iterdir())
        proxy.down = False
        after = run(second_run())
    assert before[-1]["event"] == "failed" and len(before[-1]["files"]) == 2
    assert "rec-n.kept.json" in left_on_disk and len(left_on_disk) == 3
    assert [r["event"] for r in after] == ["uploaded", "uploaded", "completed"]
    files = after[-1]["files"]
    assert files[:2] == before[-1]["files"], "the manifest keeps what was uploaded before"
    assert sorted((f["participantId"], f["kind"]) for f in files[2:]) == [
        ("alice", "audio"), ("alice", "video")]
    for entry in files:
        path = download(s3, bucket, entry, tmp_path)
        check_file(path, entry, CODECS[entry["kind"]], entry["durationSeconds"])
    assert list(spool.iterdir()) == [], "no local copy, nor note, after the retry"


def test_a_replayed_start_of_a_recording_that_is_over_records_nothing(s3_endpoint, tmp_path):
    destination, s3, bucket = s3_destination(s3_endpoint)
    spool = tmp_path / "spool"

    async def scenario():
        async with running_node(secrets_key=KEY, recording_dir=str(spool)) as n:
            # a restarted node follows the room's feed from its start again
            n.node.control_plane.destinations["rec-old"] = {
                **destination, "recordingStatus": "completed"}
            alice = await speaker_client(n, "alice")
            assert await wait_for(lambda: publishing(n, "alice"), timeout=10)
            await event(n, 1, "RecordingStarted", recordingId="rec-old", output="per-track",
                        destinationId="d")
            assert await wait_for(lambda: "rec-old" not in n.node.recordings.active)
            await event(n, 2, "RecordingStopped", recordingId="rec-old", reason="stopped")
            await asyncio.sleep(0.5)
            await alice.close()
            return reports(n, "rec-old")

    assert run(scenario()) == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert list(spool.iterdir()) == []


async def restarted_and_retried(destination: dict, spool, rid: str, output: str,
                                failed_within: float) -> list:
    """A node restarted on the disk of one killed mid-recording: it finishes the files
    and reports the killed run failed (back quickly, the control plane still has the
    recording running, never retried); then a host retries, and the recording completes.
    The recording's reports; its ``failed`` within ``failed_within`` s."""
    control_plane = StandaloneControlPlane()
    control_plane.destinations[rid] = {**destination, "recordingStatus": "recording",
                                       "recordingRetries": 0}
    async with running_node(control_plane=control_plane, secrets_key=KEY,
                            recording_dir=str(spool)) as n:
        assert await wait_for(lambda: "failed" in events(n, rid), timeout=failed_within)
        control_plane.destinations[rid] = {  # then a host retries
            **destination, "recordingStatus": "uploading", "recordingRetries": 1}
        # its feed replayed from the start: the old start must not touch the recording
        await event(n, 1, "RecordingStarted", recordingId=rid, output=output,
                    destinationId="d")
        await event(n, 3, "RecordingRetryRequested", recordingId=rid)
        assert await wait_for(lambda: "completed" in events(n, rid), timeout=30)
        return reports(n, rid)


def test_files_a_killed_node_was_writing_are_finished_from_its_disk_and_retried(
        s3_endpoint, tmp_path):
    destination, s3, bucket = s3_destination(s3_endpoint)
    spool = tmp_path / "spool"

    async def first_run():  # the node goes away mid-recording: no stop, no report
        async with running_node(secrets_key=KEY, recording_dir=str(spool)) as n:
            alice, _ = await alice_recorded(n, "rec-k", destination)
            await asyncio.sleep(3.0)
            writers = n.node.recordings.active["rec-k"].writers
            assert await wait_for(lambda: all(w.file.frames > 30 for w in writers), timeout=10)
            await alice.close(hang_up=False)
            return reports(n, "rec-k")

    before = run(first_run())
    after = run(restarted_and_retried(destination, spool, "rec-k", "per-track", 10))
    assert [r["event"] for r in before] == ["recording"]
    failed = after[0]
    assert (failed["event"], failed["reason"], failed["files"]) == ("failed", "node_lost", [])
    assert "restarted mid-recording" in failed["error"]
    assert [r["event"] for r in after] == ["failed", "uploaded", "uploaded", "completed"]
    files = after[-1]["files"]
    assert sorted(f["kind"] for f in files) == ["audio", "video"]
    for entry in files:
        assert entry["uri"].endswith(f"/rec-k/alice/{entry['kind']}-01.webm")
        assert entry["durationSeconds"] >= 1.0 and entry["startSeq"] == 1  # less the queue
        path = download(s3, bucket, entry, tmp_path)
        check_file(path, entry, CODECS[entry["kind"]], entry["durationSeconds"])
    assert list(spool.iterdir()) == [], "no spool, salvaged file nor note after the retry"


def test_a_composite_a_killed_node_was_writing_is_finished_from_its_disk_and_retried(
        s3_endpoint, tmp_path):
    destination, s3, bucket = s3_destination(s3_endpoint)
    spool = tmp_path / "spool"

    async def first_run():  # the node goes away mid-composite: no stop, no report
        async with running_node(secrets_key=KEY, recording_dir=str(spool)) as n:
            alice, _ = await alice_recorded(n, "rec-kc", destination, "composite")
            path = n.node.recordings.active["rec-kc"].composite.file.path
            # a few seconds of whole fragments (the output lags the node's clock by 2 s)
            assert await wait_for(lambda: os.path.exists(path) and whole_seconds(
                path, tmp_path / "probe.mp4") >= 3.0, timeout=20)
            await alice.close(hang_up=False)
            return reports(n, "rec-kc"), path

    before, path = run(first_run())
    kept_seconds = whole_seconds(path, tmp_path / "whole.mp4")  # what the kill left whole
    after = run(restarted_and_retried(destination, spool, "rec-kc", "composite", 20))
    assert [r["event"] for r in before] == ["recording"]
    failed = after[0]
    assert (failed["event"], failed["reason"], failed["files"]) == ("failed", "node_lost", [])
    assert "rec-kc_composite.salvaged.mp4" in failed["error"]
    assert [r["event"] for r in after] == ["failed", "uploaded", "completed"]
    [entry] = after[-1]["files"]
    assert entry["uri"].endswith("/rec-kc/composite.mp4") and "participantId" not in entry
    assert (entry["kind"], entry["codecs"], entry["startSeq"]) == (
        "composite", ["h264", "aac"], 1)
    downloaded = download(s3, bucket, entry, tmp_path)
    info = check_file(downloaded, entry, ["h264", "aac"], kept_seconds)  # and its sha256
    assert kept_seconds >= 3.0
    assert abs(float(info["format"]["duration"]) - kept_seconds) <= 0.1
    assert list(spool.iterdir()) == [], "no spool, salvaged file nor note after the retry"


def whole_seconds(path: str, copy) -> float:
    """How long the whole fragments of the composite at ``path`` last, as ffprobe reads
    them from a ``copy`` (0: none yet)."""
    from media_node.recording.remux import whole_fragments
    from tests.recording_checks import probe

    with open(path, "rb") as f:
        copy.write_bytes(f.read(whole_fragments(path)))
    return float(probe(copy)["format"].get("duration", 0.0)) if copy.stat().st_size else 0.0


def test_a_spool_killed_before_its_header_is_dropped_not_fatal(tmp_path):
    from media_node.recording.kept import salvage_live

    junk = tmp_path / "rec-j_alice_video-01.webm"
    junk.write_bytes(b"\x1a\x45")  # the kill came before the header was flushed
    note = {"recordingId": "rec-j", "lastSeq": 3, "live": [
        {"name": "rec-j/alice/video-01.webm", "path": str(junk), "participantId": "alice",
         "kind": "video", "addedAt": 0.0, "startSeq": 1}]}
    assert salvage_live(note) == []
    assert list(tmp_path.iterdir()) == []
