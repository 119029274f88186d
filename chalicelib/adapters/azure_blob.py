"""``AzureBlobProbe``: checks an Azure Blob Storage destination with azure-storage-blob."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.storage.blob import BlobServiceClient

from . import PROBE_BODY, probe_name


class AzureBlobProbe:
    """Writes and deletes a small block blob with the account key or the SAS token."""

    timeout_seconds = 10

    def probe(self, settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> str | None:
        try:
            container = blob_service(settings, secrets).get_container_client(settings["container"])
            blob = container.get_blob_client(probe_name(settings.get("prefix")))
            blob.upload_blob(PROBE_BODY, overwrite=True, timeout=self.timeout_seconds)
            blob.delete_blob(timeout=self.timeout_seconds)
        except Exception as error:  # noqa: BLE001 - any failure is the answer
            return str(error) or type(error).__name__
        return None


def blob_service(settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> BlobServiceClient:
    """The account's blob service: ``endpoint`` (e.g. Azurite's ``http://host:port/account``)
    or ``https://<account>.blob.core.windows.net``."""
    url = settings.get("endpoint") or f"https://{settings['account']}.blob.core.windows.net"
    if secrets.get("accountKey"):
        credential = {"account_name": settings["account"], "account_key": secrets["accountKey"]}
    else:
        credential = secrets.get("sasToken")
    return BlobServiceClient(account_url=url, credential=credential, retry_total=1,
                             connection_timeout=10, read_timeout=10)
