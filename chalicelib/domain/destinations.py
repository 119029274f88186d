"""Destinations: the customers' buckets that recordings are written to. No I/O here.

A destination's settings (bucket, region, prefix, endpoint...) are readable; its
secrets (keys, tokens, a service account) are write-only: kept only sealed
(``sealed``, by the application's ``SecretSealer``) and never part of a view.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TYPES = ("s3", "gcs", "azure")
# the settings each type may have, beside ``type`` and its secrets
SETTINGS = {
    "s3": ("bucket", "region", "prefix", "endpoint", "forcePathStyle", "roleArn", "externalId"),
    "gcs": ("bucket", "prefix", "endpoint"),
    "azure": ("account", "container", "prefix", "endpoint"),
}
SECRETS = {"s3": ("credentials",), "gcs": ("credentials",), "azure": ("accountKey", "sasToken")}


@dataclass(frozen=True)
class Destination:
    """A registered bucket: ``settings`` in the API's camelCase, ``sealed`` secrets."""

    destination_id: str
    type: str
    settings: dict[str, Any]
    created_at: str
    secret_fields: tuple[str, ...] = ()
    sealed: str | None = field(default=None, repr=False)

    def view(self) -> dict[str, Any]:
        """What the API returns: never a secret, only which secret fields are set."""
        return {"destinationId": self.destination_id, "type": self.type, **self.settings,
                "secretFields": list(self.secret_fields), "createdAt": self.created_at}

    def for_node(self) -> dict[str, Any]:
        """What the room's media node needs to write there: secrets stay sealed."""
        return {"type": self.type, "prefix": "", **self.settings, "sealed": self.sealed}
