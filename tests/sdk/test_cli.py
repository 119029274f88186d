"""The ``dropon`` console script as a subprocess, configured by the export line that
``make run`` prints: ``--json`` for scripts, tables for people, and an error as one line
with its code and exit status 1 (2 for a command line click refuses)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from tests.local_stack import banner_has_exports

from .conftest import SDK_SRC
from .support import TIMEOUT

DROPON = Path(sys.executable).with_name("dropon")


@pytest.fixture
def cli(settings):
    assert DROPON.exists(), "make venv installs the dropon console script"
    env = {**os.environ, **settings, "PYTHONPATH": str(SDK_SRC), "COLUMNS": "200"}

    def run(*args, check_exit: int | None = 0, environ=None):
        done = subprocess.run([str(DROPON), *args], env=environ or env, capture_output=True,
                              text=True, timeout=TIMEOUT)
        if check_exit is not None:
            assert done.returncode == check_exit, (args, done.stdout, done.stderr)
        return done
    run.env = env
    return run


def as_json(done):
    return json.loads(done.stdout)


def test_make_run_prints_the_lines_to_export(sdk_stack):
    assert banner_has_exports((sdk_stack["data"] / "run.out").read_text())
    assert set(sdk_stack["exports"]) == {"DROPON_API_URL", "DROPON_WS_URL", "DROPON_API_KEY",
                                         "DROPON_API_SECRET"}


def test_rooms_tokens_events_and_replay(cli, client):
    room = as_json(cli("--json", "rooms", "create", "--name", "cli", "--stage",
                       "--media-mode", "P2P"))
    assert room["policy"]["stageMode"] is True and room["name"] == "cli"
    assert room["id"] in [r["id"] for r in as_json(cli("rooms", "list", "--json"))]
    assert "cli" in cli("rooms", "show", room["id"]).stdout  # a table

    token = cli("token", room["id"], "ada", "--role", "host").stdout.strip()
    joined = client.join_room(room["id"], token)
    assert joined.role == "host"
    assert as_json(cli("token", room["id"], "bo", "--json"))["role"] == "speaker"

    stored = [json.loads(line) for line in cli("events", room["id"], "--json").stdout.splitlines()]
    assert [e["type"] for e in stored][:1] == ["RoomCreated"] and "ParticipantJoined" in [
        e["type"] for e in stored]
    assert "ParticipantJoined" in cli("events", room["id"]).stdout

    # faulthandler: a follower that does not exit on SIGINT is aborted with its threads'
    # stacks on stderr, for the failure to show where it hung (seen twice in CI)
    follow = subprocess.Popen([str(DROPON), "events", room["id"], "--follow", "--after", "0",
                               "--json"], env={**cli.env, "PYTHONFAULTHANDLER": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(follow.stdout.readline())
        assert first["type"] == "PARTICIPANT_JOINED" and first["seq"] > 0
        client.raise_hand(room["id"], token)
        while (line := json.loads(follow.stdout.readline()))["type"] != "HAND_RAISED":
            pass
        assert line["data"]["participantId"] == joined.participant_id
    finally:
        follow.send_signal(signal.SIGINT)
        try:
            exited = follow.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            follow.send_signal(signal.SIGABRT)
            _, stacks = follow.communicate(timeout=TIMEOUT)
            pytest.fail(f"events --follow did not exit on SIGINT; its stacks:\n{stacks[-6000:]}")
        assert exited == 0, follow.stderr.read()
        follow.stdout.close()
        follow.stderr.close()

    assert as_json(cli("replay", room["id"], "--version", "1", "--json"))["version"] == 1
    assert "participants" in cli("replay", room["id"], "--at", "2100-01-01T00:00:00Z").stdout
    assert cli("replay", room["id"], check_exit=2).returncode == 2
    closed = as_json(cli("rooms", "close", room["id"], "--reason", "done", "--json"))
    assert closed["status"] == "closed"


def test_errors_are_one_line_with_the_code_and_exit_1(cli, settings):
    done = cli("rooms", "show", "no-such-room", check_exit=1)
    assert done.stdout == "" and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error room_not_found: ")
    unconfigured = {k: v for k, v in cli.env.items() if k != "DROPON_API_URL"}
    done = cli("rooms", "list", check_exit=1, environ=unconfigured)
    assert done.stderr.startswith("error invalid_argument: no API URL")
    forged = {**cli.env, "DROPON_API_SECRET": "not-the-secret-" + "x" * 20}
    assert cli("rooms", "list", check_exit=1, environ=forged).stderr.startswith(
        "error unauthorized: ")
    assert cli("token", "r", "ada", "--role", "king", check_exit=2).returncode == 2


def test_destinations_recordings_and_webhooks(cli, client, s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"cli-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    made = as_json(cli("destinations", "create", "s3", "--bucket", bucket, "--region",
                       "us-east-1", "--endpoint", s3_endpoint, "--force-path-style",
                       "--access-key-id", "testing", "--secret-access-key", "testing", "--json"))
    did = made["destinationId"]
    assert made["secretFields"] == ["credentials"] and "testing" not in json.dumps(made)
    assert did in cli("destinations", "list").stdout
    assert as_json(cli("destinations", "show", did, "--json"))["bucket"] == bucket
    assert cli("destinations", "verify", did).stdout.startswith("ok")

    room = client.create_room(policy={"mediaMode": "SFU"})
    client.join_room(room.id, client.create_token(room.id, "rec", "host").token)
    started = as_json(cli("recordings", "start", room.id, "--destination", did, "--json"))
    rid = started["recordingId"]
    assert rid in cli("recordings", "list", room.id).stdout
    assert "sha256" in cli("recordings", "show", room.id, rid).stdout  # the files' columns
    assert as_json(cli("recordings", "stop", room.id, rid, "--json"))["recordingId"] == rid
    assert cli("recordings", "start", room.id, "--destination", "nope",
               check_exit=1).stderr.startswith("error destination_not_found: ")
    assert as_json(cli("destinations", "delete", did, "--json"))["deleted"] is True

    hook = as_json(cli("webhooks", "create", "http://127.0.0.1:9/in", "--event", "RoomClosed",
                       "--room", room.id, "--json"))
    assert hook["secret"].startswith("whsec_") and hook["rooms"] == [room.id]
    assert "secret (shown once)" in cli("webhooks", "rotate-secret", hook["webhookId"]).stdout
    shown = as_json(cli("webhooks", "show", hook["webhookId"], "--json"))
    assert shown["deliveries"] == [] and "secret" not in shown
    assert hook["webhookId"] in cli("webhooks", "list").stdout
    assert as_json(cli("webhooks", "delete", hook["webhookId"], "--json"))["status"] == "deleted"
