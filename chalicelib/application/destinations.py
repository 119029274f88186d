"""Use cases of destinations: register, read, delete and verify the buckets recordings go to.

The ports are here: the ``DestinationStore`` (``persistence/destinations.py``), the
``SecretSealer`` that keeps secrets encrypted at rest and the ``BucketProbe`` of each
store's type (both in ``chalicelib/adapters/``). Secrets are sealed as soon as they
arrive and opened only to probe the bucket; nothing here returns or logs them.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import uuid4

from chalicelib.application.views import iso
from chalicelib.domain.destinations import Destination
from chalicelib.domain.errors import DestinationNotFound, DestinationRefused, InvalidState

REDACTED = "[redacted]"


class DestinationStore(Protocol):
    def save(self, destination: Destination) -> None: ...

    def get(self, destination_id: str) -> Destination | None: ...

    def all(self) -> list[Destination]: ...

    def delete(self, destination_id: str) -> bool:
        """Whether there was such a destination."""


class SecretSealer(Protocol):
    """Encrypts secrets at rest: a Fernet key locally, AWS KMS when deployed."""

    def seal(self, plaintext: bytes) -> str: ...

    def open(self, sealed: str) -> bytes: ...


class BucketProbe(Protocol):
    def probe(self, settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> str | None:
        """Write and delete a small object; ``None`` if that worked, else the store's message."""


class DestinationService:
    """:param store: the destinations. :param sealer: seals and opens their secrets.
    :param probes: a ``BucketProbe`` per destination type."""

    def __init__(self, store: DestinationStore, sealer: SecretSealer,
                 probes: Mapping[str, BucketProbe]) -> None:
        self.store, self.sealer, self.probes = store, sealer, probes

    def register(self, type_: str, settings: dict, secrets: dict, now: datetime, *,
                 verify: bool = False) -> dict:
        """Seal the secrets and keep the destination. With ``verify``, probe the bucket
        first, while the secrets are still in hand (a deployed control plane may only seal
        them, so this is where it can check them), and keep nothing if the store refuses."""
        if verify:
            error = self.probes[type_].probe(settings, secrets)
            if error is not None:
                raise DestinationRefused(redact(error, secrets))
        sealed = self.sealer.seal(json.dumps(secrets).encode()) if secrets else None
        destination = Destination(destination_id=str(uuid4()), type=type_, settings=settings,
                                  created_at=iso(now), secret_fields=tuple(sorted(secrets)),
                                  sealed=sealed)
        self.store.save(destination)
        return destination.view()

    def list(self) -> list[dict]:
        return [d.view() for d in sorted(self.store.all(), key=lambda d: d.created_at)]

    def get(self, destination_id: str) -> dict:
        return self._destination(destination_id).view()

    def delete(self, destination_id: str) -> None:
        if not self.store.delete(destination_id):
            raise DestinationNotFound(destination_id)

    def verify(self, destination_id: str) -> dict:
        """``{ok: true}`` or ``{ok: false, error}`` with the store's message (any secret in
        it redacted)."""
        destination = self._destination(destination_id)
        secrets = json.loads(self.sealer.open(destination.sealed)) if destination.sealed else {}
        error = self.probes[destination.type].probe(destination.settings, secrets)
        return {"ok": True} if error is None else {"ok": False, "error": redact(error, secrets)}

    def leftovers(self, destination_id: str, recording_id: str) -> dict | None:
        """What a lost node left of ``recording_id`` in the destination (its objects, and
        its unfinished uploads, aborted; ``retryable`` with an ``error`` that may pass),
        or None where the store's type leaves nothing to bill (GCS resumable sessions
        and Azure uncommitted blocks lapse by themselves)."""
        destination = self._destination(destination_id)
        sweep = getattr(self.probes[destination.type], "leftovers", None)
        if sweep is None:
            return None
        try:
            secrets = json.loads(self.sealer.open(destination.sealed)) \
                if destination.sealed else {}
        except InvalidState as e:  # deployed, only media nodes open secrets (secrets_sealed)
            return {"objects": [], "uploads": [], "retryable": False,
                    "error": f"{e.code}: {e.message}; the bucket was not listed: abort its "
                    "unfinished uploads with its own credentials, or a lifecycle rule"}
        prefix = str(destination.settings.get("prefix") or "").strip("/")
        found = sweep(destination.settings, secrets,
                      f"{prefix}/{recording_id}/" if prefix else f"{recording_id}/")
        if found.get("error"):
            found["error"] = redact(found["error"], secrets)
        return found

    def for_node(self, destination_id: str) -> dict:
        return self._destination(destination_id).for_node()

    def _destination(self, destination_id: str) -> Destination:
        destination = self.store.get(destination_id)
        if destination is None:
            raise DestinationNotFound(destination_id)
        return destination


def redact(message: str, secrets: Any) -> str:
    """``message`` with every secret string of ``secrets`` (nested) replaced."""
    for value in sorted(_strings(secrets), key=len, reverse=True):
        if len(value) >= 4:
            message = message.replace(value, REDACTED)
    return message


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
