"""Recordings through the whole system: the control plane as ``chalice local`` with its
ticker, a real ``python -m media_node`` process, and moto's S3 server, all on 127.0.0.1.

- A speaker in headless Chromium (fake camera and microphone) is recorded per track into
  the bucket; ffprobe checks each file (codec, duration, decodes to the end, sha256).
- The node is killed with SIGKILL mid-recording. The control plane's tick, 30 s after the
  node's last heartbeat, fails the recording with ``node_lost``: the failure keeps the file
  already reported, lists what is in the bucket, and aborts the unfinished multipart
  uploads; the recording ends once, and no ``Recording*`` event is lost. The node then
  comes back on the same disk, finishes the files it was writing from their spools, and a
  host's ``retry-upload`` sends them.
- A bucket that does not exist fails the recording with the store's message (no secret
  in it); the speaker stays connected, and a recording to a good bucket then completes.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime

import boto3
import pytest
from cryptography.fernet import Fernet

from devstack.process import ROOT, popen
from media_node.ice.loopback import restrict_to_loopback
from tests.e2e.system import (CHROMIUM, CHROMIUM_ARGS, LoopThread, StaticSite, start_system,
                              wait_until)
from tests.recording_checks import check_file

pytestmark = [pytest.mark.media]
LOST_AFTER = 30  # DROPON_RECORDING_NODE_LOST_AFTER's default
CODECS = {"audio": "opus", "video": "vp8"}


@pytest.fixture(scope="module")
def rec(dynamodb_endpoint, s3_endpoint, tmp_path_factory):
    """The system with a sealing key shared by control plane and node, its ticker, a
    bucket registered as a destination, and an aiortc loop."""
    restrict_to_loopback()
    logs = tmp_path_factory.mktemp("e2e-rec")
    spool = logs / "spool"
    system, stop_system = start_system(
        dynamodb_endpoint, logs, DROPON_SECRETS_KEY=Fernet.generate_key().decode(),
        DROPON_RECORDING_DIR=str(spool))
    with open(logs / "ticker.log", "wb") as out:
        ticker = popen([sys.executable, "-m", "devstack.ticker", "--interval", "1"], cwd=ROOT,
                       env=system.env, stdout=out, stderr=subprocess.STDOUT)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"e2e-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    destination = system.ok("POST", "/destinations", {
        "type": "s3", "bucket": bucket, "region": "us-east-1", "prefix": "calls",
        "endpoint": s3_endpoint, "forcePathStyle": True,
        "credentials": {"accessKeyId": "testing", "secretAccessKey": "testing"}})
    loop = LoopThread()
    try:
        yield {"system": system, "s3": s3, "bucket": bucket, "spool": spool, "loop": loop,
               "destination": destination["destinationId"], "logs": logs}
    finally:
        loop.close()
        os.killpg(ticker.pid, signal.SIGTERM)
        ticker.wait(10)
        stop_system()


def sfu_room(system, name: str) -> str:
    return system.ok("POST", "/rooms", {"name": name, "persistent": True,
                                        "policy": {"mediaMode": "SFU"}})["id"]


def recording(rec, room: str, rid: str) -> dict:
    return rec["system"].ok("GET", f"/rooms/{room}/recordings/{rid}")


def recorded_seconds(view: dict) -> float:
    """From the room's ``RecordingStarted`` to its ``RecordingStopped``."""
    started, stopped = (datetime.fromisoformat(view[k].replace("Z", "+00:00"))
                        for k in ("startedAt", "stoppedAt"))
    return (stopped - started).total_seconds()


def fetch(rec, entry: dict, folder):
    key = entry["uri"].split("/", 3)[3]
    path = folder / key.replace("/", "_")
    path.write_bytes(rec["s3"].get_object(Bucket=rec["bucket"], Key=key)["Body"].read())
    return path


@pytest.mark.browser
def test_a_chromium_speaker_is_recorded_per_track_into_the_bucket(rec, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api",
                                         reason="Playwright is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian's chromium package)")
    system = rec["system"]
    room = sfu_room(system, "recorded podcast")
    site, playwright = StaticSite(), playwright_api.sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        token = system.grant(room, "chromium-host", "host")
        page = browser.new_page()
        page.goto(f"{site.url}/client.html?api={system.api_url}&room={room}&token={token}")
        page.wait_for_function("window.dropon.status === 'connected' && window.dropon.publishing",
                               timeout=30_000)
        wait_until(lambda: system.node()["streams"] >= 2, 20, what="the speaker's 2 tracks")
        started = system.ok("POST", f"/rooms/{room}/recordings",
                            {"destinationId": rec["destination"], "output": "per-track"})
        rid = started["recordingId"]
        wait_until(lambda: recording(rec, room, rid)["status"] == "recording", 20,
                   what="the node to write")
        time.sleep(4.0)  # the call goes on
        system.ok("POST", f"/rooms/{room}/recordings/{rid}/stop")
        done = wait_until(lambda: (lambda r: r if r["status"] in ("completed", "failed")
                                   else None)(recording(rec, room, rid)), 30,
                          what="the recording's outcome")
        browser.close()
    finally:
        playwright.stop()
        site.close()
    assert done["status"] == "completed", done
    seconds = recorded_seconds(done)
    assert sorted(f["kind"] for f in done["files"]) == ["audio", "video"]
    for entry in done["files"]:
        assert entry["codecs"] == [CODECS[entry["kind"]]]
        assert entry["uri"].startswith(f"s3://{rec['bucket']}/calls/{rid}/")
        check_file(fetch(rec, entry, tmp_path), entry, CODECS[entry["kind"]], seconds)
    assert list(rec["spool"].iterdir()) == [], "no local copy remains after confirmed uploads"


def test_a_node_killed_mid_recording_fails_node_lost_aborts_its_uploads_then_retries(
        rec, tmp_path):
    from media_node_dev.client import WhipClient
    from media_node_dev.loadcheck import LoopedVideo
    from media_node_dev.sources import EncodedAudioSource

    system, s3, bucket, loop = rec["system"], rec["s3"], rec["bucket"], rec["loop"]
    room = sfu_room(system, "killed node")
    pids = {}

    async def speaker(identity: str, video: bool):
        joined = system.ok("POST", f"/rooms/{room}/join", {},
                           system.grant(room, identity, "speaker"))
        pids[identity] = joined["participantId"]
        client = WhipClient(joined["media"]["url"], joined["media"]["token"])
        if video:  # a high bitrate, so that a part reaches the bucket within seconds
            client.publish(LoopedVideo(640, 480, 30, 8_000_000))
        client.publish(EncodedAudioSource())
        await client.connect()
        return client

    alice = loop.run(speaker("alice", video=True), 60)
    rid = system.ok("POST", f"/rooms/{room}/recordings",
                    {"destinationId": rec["destination"], "output": "per-track"})["recordingId"]
    wait_until(lambda: recording(rec, room, rid)["status"] == "recording", 20,
               what="the node to write")
    bob = loop.run(speaker("bob", video=False))
    time.sleep(1.5)
    loop.run(bob.close())  # bob leaves: his file is completed and reported
    wait_until(lambda: recording(rec, room, rid)["files"], 30, what="bob's file")

    def uploads():
        return s3.list_multipart_uploads(Bucket=bucket, Prefix=f"calls/{rid}/").get(
            "Uploads", [])

    def parts(upload):
        return s3.list_parts(Bucket=bucket, Key=upload["Key"],
                             UploadId=upload["UploadId"]).get("Parts", [])

    wait_until(lambda: any(parts(u) for u in uploads()), 120, interval=1.0,
               what="a part of alice's video in the bucket")
    process = system.nodes[system.node_id][0].proc
    os.kill(process.pid, signal.SIGKILL)  # no goodbye, no report, no abort
    process.wait(10)
    killed_at = time.time()
    in_flight = {u["Key"]: len(parts(u)) for u in uploads()}

    failed = wait_until(lambda: (lambda r: r if r["status"] == "failed" else None)(
        recording(rec, room, rid)), LOST_AFTER + 30, interval=0.5, what="node_lost")
    waited = time.time() - killed_at
    leftovers = wait_until(lambda: recording(rec, room, rid).get("leftovers"), 20,
                           what="the sweep of the bucket")
    loop.run(alice.close(hang_up=False))
    print(f"\nnode_lost {waited:.1f} s after the SIGKILL (lost after {LOST_AFTER} s of silence)")

    assert (failed["reason"], failed["status"]) == ("node_lost", "failed")
    [bob_file] = failed["files"]
    assert bob_file["participantId"] == pids["bob"] and bob_file["kind"] == "audio"
    check_file(fetch(rec, bob_file, tmp_path), bob_file, "opus", bob_file["durationSeconds"])
    assert leftovers["error"] is None
    assert [o["key"] for o in leftovers["objects"]] == [bob_file["uri"].split("/", 3)[3]]
    assert {u["key"]: u["parts"] for u in leftovers["uploads"]} == in_flight
    assert any(key.endswith(f"/{pids['alice']}/video-01.webm") and n >= 1 for key, n in in_flight.items())
    assert all(u["aborted"] for u in leftovers["uploads"])
    assert uploads() == [], "no multipart upload left to bill"


    # the node comes back on the same disk: it finishes alice's files from their spools,
    # and a host's retry-upload sends them; the manifest keeps bob's file
    system.start_node(system.node_id)
    retried = system.ok("POST", f"/rooms/{room}/recordings/{rid}/retry-upload")
    assert retried["status"] == "uploading"
    done = wait_until(lambda: (lambda r: r if r["status"] in ("completed", "failed") else None)(
        recording(rec, room, rid)), 60, what="the retried upload")
    assert done["status"] == "completed", done
    assert done["files"][0] == bob_file
    salvaged = {f["kind"]: f for f in done["files"][1:] if f["participantId"] == pids["alice"]}
    assert sorted(salvaged) == ["audio", "video"]
    for kind, entry in salvaged.items():
        check_file(fetch(rec, entry, tmp_path), entry, CODECS[kind], entry["durationSeconds"])
    assert list(rec["spool"].iterdir()) == [], "no local copy remains after the retry"

    types = [e["type"] for e in system.ok("GET", f"/rooms/{room}/events?limit=1000")["events"]
             if e["type"].startswith("Recording")]
    assert types == ["RecordingStarted", "RecordingWritingStarted", "RecordingUploaded",
                     "RecordingFailed", "RecordingLeftoversListed", "RecordingRetryRequested",
                     "RecordingUploaded", "RecordingUploaded", "RecordingCompleted"]


def test_a_bucket_that_refuses_fails_the_recording_and_the_room_goes_on(rec, tmp_path):
    from media_node_dev.client import WhipClient
    from media_node_dev.sources import EncodedAudioSource

    system, loop = rec["system"], rec["loop"]
    room = sfu_room(system, "refused bucket")
    settings = system.ok("GET", f"/destinations/{rec['destination']}")
    refusing = system.ok("POST", "/destinations", {
        "type": "s3", "bucket": "no-such-bucket-e2e", "region": "us-east-1",
        "prefix": "calls", "endpoint": settings["endpoint"], "forcePathStyle": True,
        "credentials": {"accessKeyId": "testing", "secretAccessKey": "e2e-secret-key"}})

    async def speaker():
        joined = system.ok("POST", f"/rooms/{room}/join", {},
                           system.grant(room, "carol", "speaker"))
        client = WhipClient(joined["media"]["url"], joined["media"]["token"])
        client.publish(EncodedAudioSource())
        await client.connect()
        return client

    carol = loop.run(speaker())
    rid = system.ok("POST", f"/rooms/{room}/recordings",
                    {"destinationId": refusing["destinationId"],
                     "output": "per-track"})["recordingId"]
    failed = wait_until(lambda: (lambda r: r if r["status"] == "failed" else None)(
        recording(rec, room, rid)), 30, what="the refusal")
    assert failed["reason"] == "destination_refused" and failed["files"] == []
    assert "NoSuchBucket" in failed["error"] and "e2e-secret-key" not in failed["error"]

    # the room goes on: carol is still connected, and a recording to a bucket that
    # takes it starts (no recording_in_progress) and completes
    assert carol.pc.connectionState == "connected"
    assert system.ok("GET", f"/rooms/{room}")["status"] == "open"
    good = system.ok("POST", f"/rooms/{room}/recordings",
                     {"destinationId": rec["destination"], "output": "per-track"})["recordingId"]
    wait_until(lambda: recording(rec, room, good)["status"] == "recording", 20,
               what="the second recording")
    time.sleep(2.0)
    system.ok("POST", f"/rooms/{room}/recordings/{good}/stop")
    done = wait_until(lambda: (lambda r: r if r["status"] in ("completed", "failed")
                               else None)(recording(rec, room, good)), 30, what="its outcome")
    loop.run(carol.close())
    assert done["status"] == "completed", done
    [entry] = done["files"]
    check_file(fetch(rec, entry, tmp_path), entry, "opus", recorded_seconds(done))
    types = [e["type"] for e in system.ok("GET", f"/rooms/{room}/events?limit=1000")["events"]
             if e["type"].startswith("Recording")]
    assert types == ["RecordingStarted", "RecordingFailed", "RecordingStarted",
                     "RecordingWritingStarted", "RecordingStopped", "RecordingUploadStarted",
                     "RecordingUploaded", "RecordingCompleted"]
