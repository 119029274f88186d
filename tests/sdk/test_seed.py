"""The seed's "create and join in 4 lines", in Python, against ``make run``'s stack: a
stage room in SFU mode, a host joins (its ``call_id`` is the one ``GROUP_CALL_JOINED``
carries), publishes real media through the media node, and the room is recorded into a
bucket on moto's S3 server; the files the manifest lists are the bucket's, byte for byte."""
from __future__ import annotations

import hashlib
import time
import uuid

import boto3
import pytest

import dropon
from tests.e2e.system import LoopThread

from .support import raw_socket, until, wait_for_node, wait_until

pytestmark = pytest.mark.media


def s3_bucket(endpoint: str):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = f"seed-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    return s3, bucket


async def publish(grant):
    """An aiortc speaker on the node of ``grant``, sending VP8 and Opus."""
    from media_node.ice.loopback import restrict_to_loopback
    from media_node_dev.client import WhipClient
    from media_node_dev.sources import EncodedAudioSource, EncodedVideoSource
    restrict_to_loopback()  # gather 127.0.0.1 only, like the stack's node
    publisher = WhipClient(grant.url, grant.token)
    publisher.publish(EncodedVideoSource())
    publisher.publish(EncodedAudioSource())
    await publisher.connect()
    return publisher


def test_the_seeds_four_lines_record_a_joined_host_into_s3(settings, s3_endpoint):
    s3, bucket = s3_bucket(s3_endpoint)
    api_url, ws_url = settings["DROPON_API_URL"], settings["DROPON_WS_URL"]
    key, secret = settings["DROPON_API_KEY"], settings["DROPON_API_SECRET"]
    setup = dropon.Client(api_url, api_key=key, api_secret=secret)
    wait_for_node(setup)
    destination_id = setup.create_destination(
        "s3", bucket=bucket, region="us-east-1", prefix="seed", endpoint=s3_endpoint,
        force_path_style=True,
        credentials={"accessKeyId": "testing", "secretAccessKey": "testing"}).destination_id

    # the seed's four lines
    client = dropon.Client(api_url, api_key=key, api_secret=secret, ws_url=ws_url)
    room = client.create_room(policy={"stageMode": True, "mediaMode": "SFU"})
    call = client.join_room(room.id, client.create_token(room.id, "ada", "host").token)
    recording = client.start_sfu_recording(room.id, destination_id)

    with raw_socket(ws_url, room.id, call.token, after=0) as read:
        joined = until(read, "GROUP_CALL_JOINED")
    assert call.call_id and call.call_id == joined["data"]["callId"]
    assert call.participant_id == joined["data"]["participantId"]
    assert call.status == "joined" and call.role == "host"
    assert call.media.url.endswith(f"/rooms/{room.id}/whip") and call.media.token
    assert recording.status == "starting" and recording.output == "per-track"

    loop = LoopThread()
    try:
        publisher = loop.run(publish(call.media))
        wait_until(lambda: client.get_recording(room.id, recording.recording_id).status
                   == "recording", "the node to start writing")
        wait_until(lambda: publisher.pc.connectionState == "connected", "ICE and DTLS")
        time.sleep(2)  # two seconds of media in the files
        client.stop_recording(room.id, recording.recording_id)
        done = wait_until(lambda: (r := client.get_recording(room.id, recording.recording_id))
                          .done and r, "the upload to finish")
        loop.run(publisher.close())
    finally:
        loop.close()

    assert done.status == "completed", done.raw
    assert sorted(f.kind for f in done.files) == ["audio", "video"]
    for entry in done.files:
        key_name = entry.uri.split(f"s3://{bucket}/", 1)[1]
        assert key_name.startswith(f"seed/{recording.recording_id}/")
        stored = s3.get_object(Bucket=bucket, Key=key_name)["Body"].read()
        assert len(stored) == entry.bytes > 0
        assert hashlib.sha256(stored).hexdigest() == entry.sha256
        assert entry.participant_id == call.participant_id
