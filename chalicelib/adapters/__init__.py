"""The control plane's adapters to the customers' stores and to key management.

One module per technology: ``s3`` (boto3), ``gcs`` (google-cloud-storage),
``azure_blob`` (azure-storage-blob), each a ``BucketProbe``; ``sealers`` (Fernet from
``cryptography``, AWS KMS), each a ``SecretSealer``. Built only by ``chalicelib.bootstrap``.
"""
from __future__ import annotations

import logging
from uuid import uuid4

PROBE_BODY = b"DropOnAir destination check; deleted right after it was written\n"


def probe_name(prefix: str | None) -> str:
    """A fresh object name under the destination's prefix (a folder, ``/`` added)."""
    folder = (prefix or "").strip("/")
    return f"{folder + '/' if folder else ''}.dropon-verify-{uuid4().hex}"


# the clouds' SDKs log whole requests at DEBUG: session tokens, SAS signatures, keys
SDK_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "azure", "google", "requests")


def keep_sdk_logs_above_debug() -> None:
    """Secrets are never logged: the SDKs that carry them log from INFO up, whatever the
    root logger's level (a DEBUG root would otherwise log their requests' headers)."""
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
