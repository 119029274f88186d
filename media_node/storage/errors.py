"""Named errors of the storage layer; each carries the store's own message."""
from __future__ import annotations


class StorageError(Exception):
    """Base of storage errors.

    :param message: what the store said (never a secret).
    """

    reason = "upload_failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DestinationRefused(StorageError):
    """Wrong credentials, no such bucket, permission denied: retrying will not help."""

    reason = "destination_refused"


class UploadFailed(StorageError):
    """A part or the completion still failed after the last retry."""

    reason = "upload_failed"


class VerificationFailed(StorageError):
    """The object read back does not match what was written (size, ETag or checksum)."""

    reason = "verification_failed"
