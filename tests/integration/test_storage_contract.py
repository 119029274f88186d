"""One contract, four stores: the local twin, moto's S3 server, Azurite and the GCS
emulator (each a process on 127.0.0.1 started by a fixture)."""
from __future__ import annotations

import asyncio
import hashlib
import os
import uuid

import boto3
import pytest

from media_node.storage.azure import AzureBlobUploader, azure_service
from media_node.storage.base import RetryPolicy
from media_node.storage.errors import DestinationRefused, UploadFailed
from media_node.storage.gcs import GCSUploader, gcs_client
from media_node.storage.local import LocalDirectoryUploader
from media_node.storage.s3 import S3Uploader, s3_client
from tests.storage_servers import AZURITE_ACCOUNT, AZURITE_KEY

FAST = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2)
S3_CREDS = {"accessKeyId": "testing", "secretAccessKey": "testing-secret"}


class Store:
    """An uploader, a way to read an object back, and one for a bucket that is not there."""

    def __init__(self, uploader, read, missing, pending=lambda: []) -> None:
        self.uploader, self.read, self.missing, self.pending = uploader, read, missing, pending


def local_store(tmp_path) -> Store:
    root = tmp_path / "bucket"
    root.mkdir()
    return Store(LocalDirectoryUploader(root, "rec", part_size=64 * 1024, retry=FAST),
                 lambda key: (root / key).read_bytes(),
                 LocalDirectoryUploader(tmp_path / "absent", retry=FAST))


def s3_store(endpoint: str, bucket: str | None = None) -> Store:
    client = s3_client("us-east-1", endpoint, True, S3_CREDS)
    bucket = bucket or f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)

    def pending():
        return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])

    return Store(S3Uploader(client, bucket, "rec", part_size=5 * 1024 * 1024, retry=FAST,
                            secrets=(S3_CREDS["secretAccessKey"],)),
                 lambda key: client.get_object(Bucket=bucket, Key=key)["Body"].read(),
                 S3Uploader(client, "no-such-bucket", retry=FAST), pending)


def gcs_store(endpoint: str) -> Store:
    client = gcs_client("test", endpoint, None)
    bucket = client.create_bucket(f"b-{uuid.uuid4().hex[:12]}")
    return Store(GCSUploader(client, bucket.name, "rec", part_size=256 * 1024, retry=FAST),
                 lambda key: bucket.blob(key).download_as_bytes(),
                 GCSUploader(client, "no-such-bucket", retry=FAST))


def azure_store(endpoint: str) -> Store:
    service = azure_service(AZURITE_ACCOUNT, endpoint, {"accountKey": AZURITE_KEY})
    container = f"c-{uuid.uuid4().hex[:12]}"
    service.create_container(container)
    return Store(AzureBlobUploader(service, container, "rec", part_size=256 * 1024, retry=FAST,
                                   secrets=(AZURITE_KEY,)),
                 lambda key: service.get_blob_client(container, key).download_blob().readall(),
                 AzureBlobUploader(service, "no-such-container", retry=FAST))


@pytest.fixture(params=["local", "s3", "gcs", "azure"])
def store(request, tmp_path):
    kind = request.param
    if kind == "local":
        made = local_store(tmp_path)
    elif kind == "s3":
        made = s3_store(request.getfixturevalue("s3_endpoint"))
    elif kind == "gcs":
        made = gcs_store(request.getfixturevalue("gcs_endpoint"))
    else:
        made = azure_store(request.getfixturevalue("azurite_endpoint"))
    yield made
    made.uploader.close()
    made.missing.close()


def run(coro):
    return asyncio.run(coro)


def test_an_object_streams_in_parts_and_reads_back_whole(store):
    part = store.uploader.part_size
    data = os.urandom(part * 5 // 2 + 1234)
    header = b"FINAL-HEADER"

    async def scenario():
        upload = await store.uploader.open("a/track.webm", "video/webm")
        for i in range(0, len(data), 40_000):
            await upload.write(data[i:i + 40_000])
        sent_while_writing = len(upload.parts)
        first = header + data[len(header):part]  # the muxer's last word on its header
        stored = await upload.complete(first, hashlib.sha256(header + data[len(header):])
                                       .hexdigest())
        return sent_while_writing, stored

    sent_while_writing, stored = run(scenario())
    assert sent_while_writing == 1, "the second part goes out before completion"
    expected = header + data[len(header):]
    assert stored.bytes == len(expected)
    assert stored.uri.endswith("rec/a/track.webm") and stored.etag
    assert store.read("rec/a/track.webm") == expected
    found = run(store.uploader.stat("a/track.webm"))
    assert found.size == len(expected) and found.etag.strip('"') == stored.etag
    assert store.pending() == []


def test_a_small_object_is_one_part(store):
    async def scenario():
        upload = await store.uploader.open("small.opus", "audio/ogg")
        await upload.write(b"opus" * 100)
        return await upload.complete(sha256=hashlib.sha256(b"opus" * 100).hexdigest())

    stored = run(scenario())
    assert stored.bytes == 400 and store.read("rec/small.opus") == b"opus" * 100


def test_an_aborted_upload_leaves_nothing(store):
    part = store.uploader.part_size

    async def scenario():
        upload = await store.uploader.open("gone.webm", "video/webm")
        await upload.write(os.urandom(part * 2 + 10))
        assert upload.parts, "a part was sent"
        await upload.abort()

    run(scenario())
    with pytest.raises(Exception):
        store.read("rec/gone.webm")
    assert store.pending() == [], "no multipart upload left to bill"


def test_a_missing_bucket_is_refused_with_the_stores_message(store):
    async def scenario():
        await store.missing.open("x.webm", "video/webm")

    with pytest.raises(DestinationRefused) as refused:
        run(scenario())
    assert refused.value.message
    assert "testing-secret" not in refused.value.message and AZURITE_KEY not in \
        refused.value.message


class FailingParts:
    """A botocore hook that fails the first ``n`` UploadPart calls, as a flaky network."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.failed = 0

    def __call__(self, **kwargs):
        if self.left:
            self.left -= 1
            self.failed += 1
            from botocore.exceptions import EndpointConnectionError
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1 (injected)")


def test_s3_parts_that_fail_are_retried_and_the_upload_completes(s3_endpoint):
    store = s3_store(s3_endpoint)
    flaky = FailingParts(3)
    store.uploader.client.meta.events.register("before-send.s3.UploadPart", flaky)
    data = os.urandom(11 * 1024 * 1024)

    async def scenario():
        upload = await store.uploader.open("flaky.webm", "video/webm")
        await upload.write(data)
        return await upload.complete(sha256=hashlib.sha256(data).hexdigest())

    stored = run(scenario())
    assert flaky.failed == 3
    assert stored.bytes == len(data) and store.read("rec/flaky.webm") == data
    assert stored.etag.endswith("-3")
    store.uploader.close()


def test_s3_parts_that_keep_failing_give_up_and_the_upload_is_aborted(s3_endpoint):
    store = s3_store(s3_endpoint)
    store.uploader.client.meta.events.register("before-send.s3.UploadPart", FailingParts(99))

    async def scenario():
        upload = await store.uploader.open("lost.webm", "video/webm")
        try:
            await upload.write(os.urandom(11 * 1024 * 1024))
        except UploadFailed:
            await upload.abort()
            raise

    with pytest.raises(UploadFailed) as failed:
        run(scenario())
    assert "injected" in failed.value.message
    assert store.pending() == []
    store.uploader.close()


def test_boto3_reads_what_the_node_wrote_with_plain_credentials(s3_endpoint):
    # the bucket is an ordinary S3 bucket: another client sees the object
    store = s3_store(s3_endpoint, bucket="plain-bucket")

    async def scenario():
        upload = await store.uploader.open("plain.bin", "application/octet-stream")
        await upload.write(b"x" * 10)
        await upload.complete()

    run(scenario())
    other = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    assert other.get_object(Bucket="plain-bucket", Key="rec/plain.bin")["Body"].read() == b"x" * 10
    store.uploader.close()
