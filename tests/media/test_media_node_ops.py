"""What an operator reads of a node while it carries a call: ``/metrics`` scraped during
a real aiortc call that is recorded to a bucket, ``/health`` and ``/ready``, and a drain
seen from the clients' side."""
from __future__ import annotations

import json
import uuid

import aiohttp
import boto3
import pytest
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

from media_node_dev.client import SignalingRefused

from .helpers import listener_client, run, running_node, speaker_client, wait_for

pytestmark = pytest.mark.media
KEY = Fernet.generate_key().decode()


async def scrape(n, token: str = "") -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        async with http.get(n.base_url + "/metrics", headers=headers) as r:
            assert r.status == 200, await r.text()
            text = await r.text()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


async def get(n, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(n.base_url + path) as r:
            return r.status, await r.json()


def s3_destination(endpoint: str) -> dict:
    bucket = f"ops-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    sealed = Fernet(KEY).encrypt(json.dumps(
        {"accessKeyId": "testing", "secretAccessKey": "testing"}).encode()).decode()
    return {"type": "s3", "bucket": bucket, "region": "us-east-1", "prefix": "ops",
            "endpoint": endpoint, "forcePathStyle": True, "sealed": sealed}


def grew(before: dict, after: dict, *names: str) -> dict:
    """The counters of ``names`` that did not grow."""
    return {n: (before.get(n, 0), after.get(n, 0)) for n in names
            if after.get(n, 0) <= before.get(n, 0)}


def test_the_counters_move_during_a_recorded_call(s3_endpoint, tmp_path):
    async def scenario():
        async with running_node(secrets_key=KEY, recording_dir=str(tmp_path)) as n:
            n.node.control_plane.destinations["rec-1"] = s3_destination(s3_endpoint)
            before = await scrape(n)
            speaker = await speaker_client(n, "sam")
            listener = await listener_client(n, "lee", wait_connected=True)
            assert await wait_for(lambda: len(listener.frames) > 30, timeout=15)
            await n.node.apply_room_event("r", {"seq": 3, "type": "RecordingStarted", "data": {
                "recordingId": "rec-1", "output": "per-track", "destinationId": "d"}})
            assert await wait_for(lambda: len(n.node.recordings.active) == 1, timeout=10)
            during = await scrape(n)
            await n.node.apply_room_event("r", {"seq": 4, "type": "RecordingStopped",
                                                "data": {"recordingId": "rec-1"}})
            reports = n.node.control_plane.recording_reports
            assert await wait_for(lambda: any(r["event"] == "completed" for *_, r in reports),
                                  timeout=20)
            after = await scrape(n)
            await listener.close()
            await speaker.close()
            return before, during, after

    before, during, after = run(scenario())
    assert (during["dropon_node_rooms"], during["dropon_node_participants"]) == (1, 2)
    assert (during["dropon_node_publishers"], during["dropon_node_subscribers"]) == (1, 1)
    assert during["dropon_node_published_tracks"] == 2
    assert during["dropon_node_recordings_active"] == 1
    assert after["dropon_node_recordings_active"] == 0
    assert grew(before, during, "dropon_node_rtp_packets_in_total",
                "dropon_node_rtp_bytes_in_total", "dropon_node_rtp_packets_out_total",
                "dropon_node_rtp_bytes_out_total", "dropon_node_plis_sent_total",
                "dropon_node_keyframe_skips_total") == {}
    assert grew(during, after, "dropon_node_recording_bytes_uploaded_total") == {}
    assert after["dropon_node_recording_upload_failures_total"] == \
        before["dropon_node_recording_upload_failures_total"]
    for name in ("dropon_node_nacks_received_total", "dropon_node_nacks_sent_total",
                 "dropon_node_rtx_sent_total", "dropon_node_packets_lost_total",
                 "dropon_node_queue_drops_total", "dropon_node_event_loop_lag_seconds",
                 "dropon_node_event_loop_lag_max_seconds", "process_cpu_seconds_total"):
        assert name in after  # loss-driven ones stay 0 on a clean loopback
    assert after["process_cpu_seconds_total"] > 0


def test_health_ready_and_a_drain_as_clients_see_it():
    async def scenario():
        async with running_node(metrics_token="scrape-me") as n:
            seen = {"health": await get(n, "/health"), "ready": await get(n, "/ready")}
            async with aiohttp.ClientSession() as http:
                async with http.get(n.base_url + "/metrics") as r:
                    seen["metrics without token"] = r.status
            seen["metrics"] = await scrape(n, "scrape-me")
            speaker = await speaker_client(n, "sam")
            assert await wait_for(lambda: speaker.pc.connectionState == "connected", 10)
            assert await wait_for(lambda: speaker.channel.readyState == "open", 10)
            await n.node.drain(5)
            seen["ready after"] = await get(n, "/ready")
            seen["health after"] = await get(n, "/health")
            seen["draining"] = (await scrape(n, "scrape-me"))["dropon_node_draining"]
            assert await wait_for(lambda: any(m.get("type") == "bye" for m in speaker.notices))
            seen["bye"] = [m for m in speaker.notices if m.get("type") == "bye"]
            try:
                await (await speaker_client(n, "late", connect=False)).connect()
            except SignalingRefused as refused:
                seen["late"] = (refused.status, refused.code)
            seen["left"] = n.node.control_plane.disconnected
            await speaker.close(hang_up=False)
            return seen

    seen = run(scenario())
    assert seen["health"] == (200, {"ok": True}) and seen["ready"] == (200, {"ready": True})
    assert seen["metrics without token"] == 401
    assert seen["metrics"]["dropon_node_draining"] == 0
    assert seen["ready after"] == (503, {"ready": False, "reason": "draining"})
    assert seen["health after"] == (200, {"ok": True})
    assert seen["draining"] == 1
    assert seen["bye"] == [{"type": "bye", "reason": "node_draining"}]
    assert seen["late"] == (503, "node_draining")
    assert seen["left"] == []  # a drained participant stays in the room, to reconnect
