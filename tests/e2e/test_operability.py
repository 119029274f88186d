"""An operator's story: a call with a recording to a customer's bucket and a webhook,
on the control plane's processes and real media nodes; then the node carrying the call
is told to stop, as ECS tells it. The run's logs are then read as an operator reads
them: one JSON object a line, no secret in any, and the control plane's metrics in
CloudWatch's Embedded Metric Format.
"""
from __future__ import annotations

import json
import secrets
from uuid import uuid4

import boto3
import pytest
from prometheus_client.parser import text_string_to_metric_families

from media_node.ice.loopback import restrict_to_loopback
from media_node_dev.client import WhipClient
from media_node_dev.sources import EncodedAudioSource, EncodedVideoSource
from tests.e2e.ops_stack import WebhookReceiver, start_ops_stack
from tests.e2e.system import LoopThread, wait_until

pytestmark = pytest.mark.media  # real aiortc peers and node processes
restrict_to_loopback()  # the test's peers offer 127.0.0.1 only, like the nodes


async def connect(media: dict, publish: bool) -> WhipClient:
    client = WhipClient(media["url"], media["token"])
    if publish:
        client.publish(EncodedVideoSource())
        client.publish(EncodedAudioSource())
    else:
        client.receive(audio=1, video=1)
    await client.connect()
    return client


def scrape(url: str) -> dict[str, float]:
    import urllib.request
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {s.name: s.value for family in text_string_to_metric_families(text)
            for s in family.samples}


def bucket(endpoint: str) -> str:
    name = f"ops-{uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def run(dynamodb_endpoint, s3_endpoint, tmp_path_factory):
    stack = start_ops_stack(dynamodb_endpoint, tmp_path_factory.mktemp("ops-logs"))
    receiver, loop, clients, seen = WebhookReceiver(), LoopThread(), [], {"stack": stack}
    try:
        node_a = stack.start_node("node-a")
        hook = stack.ok("POST", "/webhooks", {"url": receiver.url})
        stack.secrets["webhook secret"] = hook["secret"]
        key_id, secret_key = "AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
        stack.secrets.update({"bucket access key id": key_id, "bucket secret key": secret_key})
        destination = stack.ok("POST", "/destinations", {
            "type": "s3", "bucket": bucket(s3_endpoint), "region": "us-east-1",
            "prefix": "ops/", "endpoint": s3_endpoint, "forcePathStyle": True,
            "credentials": {"accessKeyId": key_id, "secretAccessKey": secret_key}})

        room = stack.ok("POST", "/rooms", {"name": "ops", "persistent": True,
                                           "policy": {"mediaMode": "SFU"}})["id"]
        ada_token = stack.participant(room, "ada", "host")
        bo_token = stack.participant(room, "bo", "speaker")
        ada, bo = stack.join(room, ada_token), stack.join(room, bo_token)
        bo_client = loop.run(connect(bo["media"], publish=True))
        ada_client = loop.run(connect(ada["media"], publish=False))
        clients += [bo_client, ada_client]
        wait_until(lambda: len(ada_client.frames) > 30, 30, what="ada receives bo")

        recording = stack.ok("POST", f"/rooms/{room}/recordings", {
            "destinationId": destination["destinationId"], "output": "per-track"})
        path = f"/rooms/{room}/recordings/{recording['recordingId']}"
        wait_until(lambda: stack.ok("GET", path)["status"] == "recording", 30,
                   what="the recording writes")
        wait_until(lambda: scrape(node_a)["dropon_node_rtp_packets_out_total"] > 100, 30)
        seen["metrics"] = scrape(node_a)

        closed = stack.ok("POST", "/rooms", {"name": "closed", "persistent": True})["id"]
        late = stack.participant(closed, "cy", "speaker")
        stack.ok("POST", f"/rooms/{closed}/close", {"reason": "done"})
        seen["refused"] = stack.call("POST", f"/rooms/{closed}/join", token=late)

        stack.start_node("node-b")
        seen["exit"] = stack.terminate_node("node-a")
        seen["recording"] = wait_until(
            lambda: (r := stack.ok("GET", path))["status"] in ("completed", "failed") and r,
            60, what="the drained recording's outcome")
        seen["notices"] = ada_client.notices + bo_client.notices
        moved = stack.ok("POST", f"/rooms/{room}/media", token=bo_token)["media"]
        stack.secrets["media token of bo on node-b"] = moved["token"]
        seen["moved"] = moved
        again = loop.run(connect(moved, publish=True))
        clients.append(again)
        wait_until(lambda: again.pc.connectionState == "connected", 30, what="bo on node-b")
        seen["events"] = [e["type"] for e in stack.ok(
            "GET", f"/rooms/{room}/events?after=0&limit=1000")["events"]]
        wait_until(lambda: any(json.loads(b)["type"] == "RecordingCompleted"
                               for _, b in receiver.deliveries), 60, what="the webhook")
        for number, (headers, _) in enumerate(receiver.deliveries):
            stack.secrets[f"webhook signature {number}"] = headers["DropOn-Signature"]
        for client in clients:  # node-a is gone: nothing to hang up there
            loop.run(client.close(hang_up=client is again))
    finally:
        loop.close()
        stack.stop()
        receiver.close()
    yield seen


def test_a_node_told_to_stop_finishes_its_recording_and_its_room_moves(run):
    assert run["exit"] == 0
    recording = run["recording"]
    assert recording["status"] == "completed", recording
    assert {f["kind"] for f in recording["files"]} == {"audio", "video"}
    assert {"type": "bye", "reason": "node_draining"} in run["notices"]
    assert run["moved"]["nodeId"] == "node-b"
    assigned = [t for t in run["events"] if t == "MediaNodeAssigned"]
    assert len(assigned) == 2, run["events"]  # node-a, then node-b
    assert "RecordingStopped" in run["events"]
    node_a = "\n".join(run["stack"].log_lines()["node-a.log"])
    assert '"message": "draining: 1 rooms, 2 sessions, 1 recordings"' in node_a
    assert '"message": "drained"' in node_a


def test_the_node_metrics_move_in_a_running_process(run):
    m = run["metrics"]
    assert (m["dropon_node_rooms"], m["dropon_node_participants"]) == (1, 2)
    assert (m["dropon_node_publishers"], m["dropon_node_recordings_active"]) == (1, 1)
    assert m["dropon_node_rtp_packets_in_total"] > 0 and m["dropon_node_rtp_bytes_out_total"] > 0
    assert m["dropon_node_control_plane_reachable"] == 1 and m["dropon_node_draining"] == 0
    assert m["process_cpu_seconds_total"] > 0


def records(run, *names) -> list[dict]:
    lines = run["stack"].log_lines()
    # the WebSocket gateway prints its address on a line of its own (devstack only)
    return [json.loads(line) for name in names for line in lines[name] if line.startswith("{")]


def test_every_log_line_is_one_json_object_with_its_context(run):
    names = ("api.log", "node-a.log", "node-b.log", "webhooks.log", "ticker.log")
    lines = run["stack"].log_lines()
    for name in names:
        assert lines[name], f"{name} is empty"
        for line in lines[name]:
            record = json.loads(line)  # raises on any line that is not JSON
            if "_aws" in record:
                continue  # a metric (EMF), not a log line
            assert {"level", "time", "message"} <= set(record), (name, line)
    node = records(run, "node-a.log")
    assert all(r.get("nodeId") == "node-a" for r in node)
    assert any("roomId" in r and "participantId" in r and "requestId" in r for r in node)
    api = [r for r in records(run, "api.log") if "_aws" not in r]
    assert any("roomId" in r and "requestId" in r for r in api)


def test_no_secret_or_token_reaches_any_log(run):
    stack = run["stack"]
    assert len(stack.secrets) >= 15, sorted(stack.secrets)
    leaks = [(name, what) for name, lines in stack.log_lines().items() for line in lines
             for what, value in stack.secrets.items() if value and value in line]
    assert leaks == []


def test_the_control_plane_emits_its_metrics_as_emf(run):
    emf = [r for r in records(run, "api.log", "webhooks.log", "ticker.log", "ws-gateway.log")
           if "_aws" in r]
    names = {m["Name"] for r in emf for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {d["Namespace"] for r in emf for d in r["_aws"]["CloudWatchMetrics"]} == {"DropOn"}
    assert {"CommandLatency", "JoinsRefused", "HealthyNodes", "WebhookDeliveryLag",
            "EventsFannedOut"} <= names, names
    commands = {r["Command"] for r in emf if "CommandLatency" in r}
    assert {"create_room", "join", "heartbeat", "media"} <= commands
    refused = [r for r in emf if "JoinsRefused" in r]
    assert run["refused"][0] == 409 and {r["Code"] for r in refused} == {"room_closed"}
    # kept per code and in total, the total being what an alarm watches
    assert refused[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[], ["Code"]]
