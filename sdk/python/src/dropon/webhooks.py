"""Webhook signatures, as Stripe signs: ``DropOn-Signature: t=<unix>,v1=<hex>``.

The hex is HMAC-SHA256 with the endpoint's secret over ``"<t>.<raw body>"``. This module
imports the standard library only: the SDK ships it as ``dropon.webhooks`` and a
receiver calls ``verify(body, header, secret)``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time

HEADER = "DropOn-Signature"
DELIVERY_ID_HEADER = "DropOn-Delivery-Id"
EVENT_TYPE_HEADER = "DropOn-Event-Type"
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The delivery is not signed with the secret, or was signed too long ago."""


def _hmac(body: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str | list[str], timestamp: int | None = None) -> str:
    """The ``DropOn-Signature`` header's value for ``body``, signed at ``timestamp``; one
    ``v1`` per secret (while a rotated secret is still honoured, both sign)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    secrets = [secret] if isinstance(secret, str) else secret
    return ",".join([f"t={t}"] + [f"v1={_hmac(body, s, t)}" for s in secrets])


def verify(body: bytes | str, header: str | None, secret: str, *,
           tolerance: int = TOLERANCE_SECONDS, now: float | None = None) -> dict:
    """The delivered event, if ``header`` signs ``body`` with ``secret`` within
    ``tolerance`` seconds of ``now``; else :class:`SignatureError`."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    timestamp, signatures = _parse(header)
    expected = _hmac(body, secret, timestamp)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureError("no signature matches the body and the secret")
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance:
        raise SignatureError(f"the signature's timestamp is {int(age)} s from now "
                             f"(tolerance {tolerance} s)")
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        raise SignatureError("the signed body is not JSON") from None


def _parse(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise SignatureError(f"no {HEADER} header")
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError(f"malformed {HEADER} header: expected t=<unix>,v1=<hex>")
    return timestamp, signatures
