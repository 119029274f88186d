"""Amazon S3 (and S3-compatible stores): multipart uploads with boto3."""
from __future__ import annotations

import hashlib

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

from .base import ObjectUpload, Part, ReadBack, RetryPolicy, Uploader

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's floor for every part but the last
REFUSALS = {"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch",
            "AllAccessDisabled", "InvalidBucketName", "AuthorizationHeaderMalformed",
            "ExpiredToken", "InvalidToken", "AccountProblem", "PermanentRedirect"}


class S3Uploader(Uploader):
    """A bucket written with multipart uploads; an abandoned upload is aborted.

    :param client: a boto3 S3 client (see :func:`s3_client`); tests may hook its events.
    """

    def __init__(self, client, bucket: str, prefix: str = "", part_size: int = 8 * 1024 * 1024,
                 retry: RetryPolicy | None = None, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(prefix, max(part_size, MIN_PART_SIZE), retry, secrets)
        self.client = client
        self.bucket = bucket

    def refused(self, exc: Exception) -> bool:
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return True
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return error.get("Code") in REFUSALS or status in (401, 403)
        return False

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _new_upload(self, key: str, content_type: str) -> "S3ObjectUpload":
        return S3ObjectUpload(self, key, content_type)

    def read_back(self, key: str) -> ReadBack:
        head = self.client.head_object(Bucket=self.bucket, Key=key)
        return ReadBack(head["ContentLength"], head["ETag"].strip('"'))


class S3ObjectUpload(ObjectUpload):
    """``CreateMultipartUpload``, ``UploadPart`` per part, ``CompleteMultipartUpload``;
    ``AbortMultipartUpload`` when given up, so no part is left to bill."""

    uploader: S3Uploader

    def begin(self) -> None:
        s3 = self.uploader
        self.upload_id = s3.client.create_multipart_upload(
            Bucket=s3.bucket, Key=self.key, ContentType=self.content_type)["UploadId"]

    def put_part(self, number: int, data: bytes) -> str:
        s3 = self.uploader
        return s3.client.upload_part(Bucket=s3.bucket, Key=self.key, UploadId=self.upload_id,
                                     PartNumber=number, Body=data)["ETag"]

    def finish(self, parts: list[Part], sha256: str) -> None:
        s3 = self.uploader
        s3.client.complete_multipart_upload(
            Bucket=s3.bucket, Key=self.key, UploadId=self.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.token}
                                       for p in parts]})

    def cancel(self) -> None:
        s3 = self.uploader
        s3.client.abort_multipart_upload(Bucket=s3.bucket, Key=self.key,
                                         UploadId=self.upload_id)

    def expected_etag(self) -> str:
        # a multipart object's ETag: md5 of the parts' md5s, then "-" and the count
        digest = hashlib.md5(b"".join(p.md5 for p in self.parts)).hexdigest()
        return f"{digest}-{len(self.parts)}"


def s3_client(region: str | None, endpoint: str | None, force_path_style: bool,
              credentials: dict | None):
    """A boto3 S3 client; botocore's own retries are off (the uploader retries).

    :param credentials: ``{accessKeyId, secretAccessKey, sessionToken?}``, or None for
        the node's default chain (an instance role, for example).
    """
    creds = credentials or {}
    session = boto3.session.Session(
        aws_access_key_id=creds.get("accessKeyId"),
        aws_secret_access_key=creds.get("secretAccessKey"),
        aws_session_token=creds.get("sessionToken"))
    config = Config(s3={"addressing_style": "path" if force_path_style else "auto"},
                    retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60)
    return session.client("s3", region_name=region or None, endpoint_url=endpoint or None,
                          config=config)


def sts_client(region: str | None, credentials: dict | None):
    """An STS client with ``credentials`` (or the node's default chain)."""
    creds = credentials or {}
    return boto3.session.Session(
        aws_access_key_id=creds.get("accessKeyId"),
        aws_secret_access_key=creds.get("secretAccessKey"),
        aws_session_token=creds.get("sessionToken")).client("sts", region_name=region or None)
