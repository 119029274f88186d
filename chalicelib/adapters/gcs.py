"""``GCSProbe``: checks a Google Cloud Storage destination with google-cloud-storage."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account

from . import PROBE_BODY, probe_name


class GCSProbe:
    """Writes and deletes a small object with the destination's service account, or
    anonymously against an ``endpoint`` without one (an emulator)."""

    timeout_seconds = 10

    def probe(self, settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> str | None:
        try:
            bucket = gcs_client(settings, secrets).bucket(settings["bucket"])
            blob = bucket.blob(probe_name(settings.get("prefix")))
            # the library retries for 120 s by default: an answer within the request's time
            retry = DEFAULT_RETRY.with_timeout(self.timeout_seconds)
            blob.upload_from_string(PROBE_BODY, timeout=self.timeout_seconds, retry=retry)
            blob.delete(timeout=self.timeout_seconds, retry=retry)
        except Exception as error:  # noqa: BLE001 - any failure is the answer
            return str(error) or type(error).__name__
        return None


def gcs_client(settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> storage.Client:
    info = secrets.get("credentials")
    options = ClientOptions(api_endpoint=settings["endpoint"]) if settings.get("endpoint") else None
    if info:
        credentials = service_account.Credentials.from_service_account_info(info)
        return storage.Client(project=info.get("project_id"), credentials=credentials,
                              client_options=options)
    return storage.Client(project="dropon", credentials=AnonymousCredentials(),
                          client_options=options)
