"""``S3Probe``: checks an S3 (or S3-compatible) destination with boto3."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from . import PROBE_BODY, probe_name


class S3Probe:
    """Writes and deletes a small object with the destination's credentials, or with
    the role it names (assumed with ``externalId``), or else the control plane's own."""

    timeout_seconds = 10

    def probe(self, settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> str | None:
        try:
            client = s3_client(settings, secrets, self.timeout_seconds)
            key = probe_name(settings.get("prefix"))
            client.put_object(Bucket=settings["bucket"], Key=key, Body=PROBE_BODY)
            client.delete_object(Bucket=settings["bucket"], Key=key)
        except Exception as error:  # noqa: BLE001 - any failure is the answer
            return str(error) or type(error).__name__
        return None

    def leftovers(self, settings: Mapping[str, Any], secrets: Mapping[str, Any],
                  under: str) -> dict:
        """What is left under the key prefix ``under``: the objects complete there, and
        every multipart upload never completed, each aborted so that its parts stop
        being billed. ``{objects, uploads, error, retryable}``; ``error`` is the store's
        message if it could not list or abort (what was found before that is kept), and
        ``retryable`` whether a later try may succeed (unreachable, a 5xx, throttled)."""
        found: dict = {"objects": [], "uploads": [], "error": None, "retryable": False}
        bucket = settings["bucket"]
        try:
            client = s3_client(settings, secrets, self.timeout_seconds)
            for page in client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=under):
                found["objects"] += [{"key": o["Key"], "bytes": o["Size"],
                                      "etag": o["ETag"].strip('"')}
                                     for o in page.get("Contents", [])]
            for page in client.get_paginator("list_multipart_uploads").paginate(
                    Bucket=bucket, Prefix=under):
                for upload in page.get("Uploads", []):
                    key, upload_id = upload["Key"], upload["UploadId"]
                    parts = [p for part_page in client.get_paginator("list_parts").paginate(
                        Bucket=bucket, Key=key, UploadId=upload_id)
                        for p in part_page.get("Parts", [])]
                    entry = {"key": key, "uploadId": upload_id, "parts": len(parts),
                             "bytes": sum(p["Size"] for p in parts), "aborted": False}
                    found["uploads"].append(entry)
                    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
                    entry["aborted"] = True
        except Exception as error:  # noqa: BLE001 - the store's message is the answer
            found["error"] = str(error) or type(error).__name__
            found["retryable"] = transient(error)
        return found


# S3's answers that say "later", besides every 5xx
THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
             "RequestLimitExceeded", "TooManyRequestsException"}


def transient(error: Exception) -> bool:
    """Whether the same call may succeed later: the store (or STS) could not be reached
    or answered a 5xx or a throttle; not a 4xx (no such bucket, access denied), which
    no wait changes."""
    if isinstance(error, (BotoConnectionError, HTTPClientError)):
        return True
    if isinstance(error, ClientError):
        answer = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        code = error.response.get("Error", {}).get("Code", "")
        return answer >= 500 or answer == 429 or code in THROTTLED
    return False


def s3_client(settings: Mapping[str, Any], secrets: Mapping[str, Any], timeout: float):
    """A boto3 S3 client for the destination (as the media node builds its own)."""
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2},
                    s3={"addressing_style": "path" if settings.get("forcePathStyle") else "auto"})
    region, endpoint = settings.get("region"), settings.get("endpoint")
    credentials = dict(secrets.get("credentials") or {})
    keys = {"aws_access_key_id": credentials.get("accessKeyId"),
            "aws_secret_access_key": credentials.get("secretAccessKey"),
            "aws_session_token": credentials.get("sessionToken")}
    if settings.get("roleArn"):
        # STS at its own endpoint (AWS_ENDPOINT_URL_STS), not the bucket's
        sts = boto3.client("sts", region_name=region, config=config, **keys)
        assume = {"RoleArn": settings["roleArn"], "RoleSessionName": "dropon-verify"}
        if settings.get("externalId"):
            assume["ExternalId"] = settings["externalId"]
        role = sts.assume_role(**assume)["Credentials"]
        keys = {"aws_access_key_id": role["AccessKeyId"],
                "aws_secret_access_key": role["SecretAccessKey"],
                "aws_session_token": role["SessionToken"]}
    return boto3.client("s3", region_name=region, endpoint_url=endpoint, config=config, **keys)
