"""Schema-driven fuzzing: schemathesis against ``make run``'s API server, from its own document.

A real ``python -m devstack.local_api`` process on the embedded DynamoDB (free port,
stopped by its pid) serves ``/openapi.json``; ``st run`` (schemathesis's CLI) tests every
operation in it with the documented examples, boundary values (its coverage phase) and
a bounded number of generated requests, positive and negative, with a fixed seed. Each
answer must be: not a 5xx, a documented status code, the documented content type (JSON),
a body matching the documented schema, and a refusal for a request the document says is
invalid. Tokens and real ids come from ``schemathesis_hooks.py``.

Left out: ``positive_data_acceptance`` (rules across fields that OpenAPI 3.0 cannot state
refuse some schema-valid requests: ``version`` with ``at``, ``startsAt`` after
``endsAt``, a mute of neither audio nor video) and the stateful phase.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.api.node_tokens import mint_node_token
from devstack.process import ROOT
from tests.integration.local_api import NODE_SECRET, local_api

MAX_EXAMPLES = 6  # generated requests per operation and mode, besides examples and boundaries
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,negative_data_rejection")
NODE_ID = "node-fuzz"
NOWHERE = "http://127.0.0.1:9"  # the node, bucket and webhook receiver: nothing listens
ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def api(dynamodb_endpoint, tmp_path_factory):
    with local_api(dynamodb_endpoint, tmp_path_factory.mktemp("local-api")) as server:
        yield server


def world(api) -> dict:
    """A real room on a media node, with a joined host and speaker, a destination, a
    recording of the room into it, a webhook, and the token of each kind of caller."""
    node = mint_node_token(NODE_SECRET, NODE_ID)
    api.ok("POST", f"/nodes/{NODE_ID}/heartbeat", {
        "url": NOWHERE, "rooms": 0, "participants": 0, "streams": 0, "cpu": 0,
        "capacity": 64}, token=node)
    room = api.ok("POST", "/rooms", {"name": "fuzz", "persistent": True})["id"]
    grant = lambda identity, role: api.ok(  # noqa: E731
        "POST", f"/rooms/{room}/tokens", {"identity": identity, "role": role})["token"]
    api.ok("POST", f"/rooms/{room}/join", token=grant("host-1", "host"))
    speaker = grant("speaker-1", "speaker")
    joined = api.ok("POST", f"/rooms/{room}/join", token=speaker)
    destination = api.ok("POST", "/destinations", {
        "type": "s3", "bucket": "recordings", "region": "eu-west-1", "endpoint": NOWHERE,
        "credentials": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "s" * 40}})
    recording = api.ok("POST", f"/rooms/{room}/recordings", {
        "destinationId": destination["destinationId"], "output": "per-track"})
    webhook = api.ok("POST", "/webhooks", {"url": NOWHERE + "/hooks"})
    return {"ids": {"roomId": room, "participantId": joined["participantId"],
                    "nodeId": NODE_ID, "destinationId": destination["destinationId"],
                    "recordingId": recording["recordingId"], "webhookId": webhook["webhookId"]},
            "tokens": {"admin": api.admin(3600), "participant": speaker,
                       "node": node}}


def test_every_answer_is_the_documented_one(api, tmp_path):
    document = tmp_path / "openapi.json"  # what the server serves, as st run reads a file
    document.write_text(json.dumps(api.ok("GET", "/openapi.json")))
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.schemathesis_hooks",
           "DROPON_FUZZ_WORLD": json.dumps(world(api)), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [str(ST), "run", str(document), "--url", api.url, "--checks", CHECKS,
         "--phases", "examples,coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES),
         "--seed", "20261206", "--workers", "1", "--request-timeout", "60", "--no-color",
         "--warnings", "missing_auth,missing_test_data,unsupported_regex,low_valid_rate"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-2000:]
