"""Google Cloud Storage: resumable uploads with google-cloud-storage.

A resumable upload only appends, and the first part is sent last (base.py), so an
object of more than one part is streamed as two: the body (parts 2..) through a
resumable session to ``<key>.body.partial``, the first part at completion to
``<key>.head.partial``; then both are composed into ``<key>`` and deleted.
"""
from __future__ import annotations

import base64
import hashlib

from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from .base import ObjectUpload, Part, ReadBack, RetryPolicy, Uploader
from .errors import VerificationFailed

CHUNK = 256 * 1024  # resumable chunks are multiples of this


class GCSUploader(Uploader):
    """A bucket written with resumable uploads.

    :param client: a ``google.cloud.storage.Client`` (see :func:`gcs_client`).
    """

    def __init__(self, client, bucket: str, prefix: str = "", part_size: int = 8 * 1024 * 1024,
                 retry: RetryPolicy | None = None, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(prefix, max(CHUNK, part_size // CHUNK * CHUNK), retry, secrets)
        self.client = client
        self.bucket = client.bucket(bucket)

    def refused(self, exc: Exception) -> bool:
        return isinstance(exc, (api_exceptions.Forbidden, api_exceptions.Unauthorized,
                                api_exceptions.NotFound, auth_exceptions.DefaultCredentialsError,
                                auth_exceptions.RefreshError))

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket.name}/{key}"

    def _new_upload(self, key: str, content_type: str) -> "GCSObjectUpload":
        return GCSObjectUpload(self, key, content_type)

    def read_back(self, key: str) -> ReadBack:
        blob = self.bucket.get_blob(key)
        if blob is None:
            raise api_exceptions.NotFound(f"{key} is not in the bucket")
        return ReadBack(blob.size, blob.etag or "", (blob.metadata or {}).get("sha256"))


class GCSObjectUpload(ObjectUpload):
    """The body through one resumable session; the head and the compose at completion."""

    uploader: GCSUploader
    retry_parts = False  # the session retries and resumes a chunk itself

    def begin(self) -> None:
        bucket = self.uploader.bucket
        try:  # a missing bucket shows now, not at stop
            bucket.reload()
        except api_exceptions.Forbidden:
            pass  # a write-only account (objectCreator) may not read the bucket: go on
        self._body = bucket.blob(self.key + ".body.partial")
        self._writer = None
        self._body_md5 = hashlib.md5()

    def put_part(self, number: int, data: bytes) -> None:
        if number == 1:  # the head, at completion
            self._head = self.uploader.bucket.blob(self.key + ".head.partial")
            self._head.upload_from_string(data, content_type=self.content_type)
            self._check_component(self._head, hashlib.md5(data).digest(), len(data))
            return None
        if self._writer is None:
            self._writer = self._body.open("wb", chunk_size=self.uploader.part_size,
                                           content_type=self.content_type, retry=DEFAULT_RETRY)
        self._writer.write(data)
        self._body_md5.update(data)
        return None

    def finish(self, parts: list[Part], sha256: str) -> None:
        target = self.uploader.bucket.blob(self.key)
        target.content_type = self.content_type
        target.metadata = {"sha256": sha256} if sha256 else None
        sources = [self._head]
        if self._writer is not None:
            self._writer.close()
            self._check_component(self._body, self._body_md5.digest(),
                                  sum(p.size for p in parts if p.number > 1))
            sources.append(self._body)
        target.compose(sources)
        for blob in sources:
            blob.delete()

    def _check_component(self, blob, md5: bytes, size: int) -> None:
        blob.reload()
        if blob.size != size or base64.b64decode(blob.md5_hash or "") != md5:
            raise VerificationFailed(f"{blob.name}: {blob.size} bytes, md5 {blob.md5_hash} "
                                     f"in the bucket; {size} bytes written")

    def cancel(self) -> None:
        # an unfinished resumable session creates no object and lapses after a week
        for name in (".head.partial", ".body.partial"):
            blob = self.uploader.bucket.blob(self.key + name)
            if blob.exists():
                blob.delete()


def gcs_client(project: str | None, endpoint: str | None, service_account: dict | None):
    """A storage client: a service account's key, or anonymous against an emulator,
    or the node's default credentials."""
    options = {"api_endpoint": endpoint} if endpoint else None
    if service_account:
        from google.oauth2 import service_account as sa
        credentials = sa.Credentials.from_service_account_info(service_account)
        return storage.Client(project=project or service_account.get("project_id"),
                              credentials=credentials, client_options=options)
    if endpoint:
        from google.auth.credentials import AnonymousCredentials
        return storage.Client(project=project or "local", credentials=AnonymousCredentials(),
                              client_options=options)
    return storage.Client(project=project, client_options=options)
