"""Azure Blob Storage: block blobs with azure-storage-blob.

Each part is a staged block (its MD5 checked by the service on arrival); completion
commits the block list in order, with the object's sha256 as metadata. Uncommitted
blocks are discarded by the service (after a week) and never become a blob.
"""
from __future__ import annotations

import base64

from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,
                                   ResourceNotFoundError)
from azure.storage.blob import BlobBlock, BlobServiceClient, ContentSettings

from .base import ObjectUpload, Part, ReadBack, RetryPolicy, Uploader


class AzureBlobUploader(Uploader):
    """A container written as block blobs.

    :param service: an ``azure.storage.blob.BlobServiceClient`` (see :func:`azure_service`).
    """

    def __init__(self, service, container: str, prefix: str = "",
                 part_size: int = 4 * 1024 * 1024, retry: RetryPolicy | None = None,
                 secrets: tuple[str, ...] = ()) -> None:
        super().__init__(prefix, part_size, retry, secrets)
        self.container = service.get_container_client(container)

    def refused(self, exc: Exception) -> bool:
        if isinstance(exc, (ClientAuthenticationError, ResourceNotFoundError)):
            return True
        return isinstance(exc, HttpResponseError) and exc.status_code in (401, 403, 404)

    def uri(self, key: str) -> str:
        # the container's URL carries a SAS token as its query: never in a manifest
        return f"{self.container.url.split('?')[0]}/{key}"

    def _new_upload(self, key: str, content_type: str) -> "AzureObjectUpload":
        return AzureObjectUpload(self, key, content_type)

    def read_back(self, key: str) -> ReadBack:
        props = self.container.get_blob_client(key).get_blob_properties()
        return ReadBack(props.size, props.etag.strip('"'), (props.metadata or {}).get("sha256"))


def block_id(number: int) -> str:
    """Block ids of one blob must all have the same length."""
    return base64.b64encode(f"part-{number:08d}".encode()).decode()


class AzureObjectUpload(ObjectUpload):
    """``Put Block`` per part, ``Put Block List`` to complete."""

    uploader: AzureBlobUploader

    def begin(self) -> None:
        self._blob = self.uploader.container.get_blob_client(self.key)
        try:  # a missing container or a wrong key shows now, not at stop
            self.uploader.container.get_container_properties()
        except HttpResponseError as exc:
            # a write-only SAS may not read the container's properties: go on
            if exc.status_code != 403 or getattr(exc, "error_code", "") == "AuthenticationFailed":
                raise

    def put_part(self, number: int, data: bytes) -> str:
        bid = block_id(number)
        self._blob.stage_block(bid, data, length=len(data), validate_content=True)
        return bid

    def finish(self, parts: list[Part], sha256: str) -> None:
        self._blob.commit_block_list(
            [BlobBlock(block_id=p.token) for p in parts],
            content_settings=ContentSettings(content_type=self.content_type),
            metadata={"sha256": sha256} if sha256 else None)

    def cancel(self) -> None:
        return None  # staged blocks that are never committed are garbage-collected


def azure_service(account: str, endpoint: str | None, credentials: dict) -> BlobServiceClient:
    """A service client with ``{accountKey}`` or ``{sasToken}``.

    :param endpoint: the account URL (Azurite: ``http://127.0.0.1:PORT/devstoreaccount1``);
        default ``https://<account>.blob.core.windows.net``.
    """
    url = endpoint or f"https://{account}.blob.core.windows.net"
    if credentials.get("accountKey"):
        credential = {"account_name": account, "account_key": credentials["accountKey"]}
    else:
        credential = credentials.get("sasToken") or None
    return BlobServiceClient(account_url=url, credential=credential)
