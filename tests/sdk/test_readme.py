"""The README's Python, run as written against ``make run``'s stack with the export line
its banner prints: the seed's four lines (given a bucket on moto's S3 as
``destination_id``) and the stage walk-through."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import boto3

from devstack.process import ROOT

from .conftest import SDK_SRC
from .support import TIMEOUT, wait_for_node


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def run_python(code: str, settings: dict) -> str:
    env = {**os.environ, **settings, "PYTHONPATH": str(SDK_SRC)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_seeds_four_lines_run_as_the_readme_writes_them(settings, client, s3_endpoint):
    seed = python_blocks()[0]
    assert seed.count("client.") == 4 and "start_sfu_recording" in seed
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"readme-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    destination_id = client.create_destination(
        "s3", bucket=bucket, region="us-east-1", endpoint=s3_endpoint, force_path_style=True,
        credentials={"accessKeyId": "testing", "secretAccessKey": "testing"}).destination_id
    wait_for_node(client)
    out = run_python(f"destination_id = {destination_id!r}\n" + seed +
                     "print(room.id, call.call_id, call.media.url)\n", settings)
    room_id, call_id, media_url = out.split()
    assert call_id and media_url.endswith(f"/rooms/{room_id}/whip")
    [recording] = client.list_recordings(room_id)
    assert recording.destination_id == destination_id


def test_the_stage_walk_through(settings):
    out = run_python(python_blocks()[1], settings)
    assert "ROLE_CHANGED" in out and out.strip().endswith("audience -> speaker")
