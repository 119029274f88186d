"""Typed field access and the stable codes for every way input can be wrong.

- 400 ``invalid_json``: the body is not a JSON object; ``invalid_parameter``: a query
  parameter is malformed.
- 413 ``body_too_large``: the body exceeds ``Settings.max_body_bytes``.
- 422 ``missing_field``, ``invalid_field``, ``unknown_field``: well-formed JSON whose
  fields are missing, of the wrong type or out of range, or not part of the request.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from .errors import ApiError, bad_request

IDENTITY_MAX = 128
TEXT_MAX = 500


def invalid(field: str, why: str) -> ApiError:
    return ApiError("invalid_field", f"{field}: {why}", 422)


def json_body(raw: bytes | str | None, max_bytes: int) -> dict:
    """The request body as a JSON object; an empty body is ``{}``."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    raw = raw or b""
    if len(raw) > max_bytes:
        raise ApiError("body_too_large", f"the body exceeds {max_bytes} bytes", 413)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad_request("invalid_json", "the body is not valid UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise bad_request("invalid_json", "the body must be a JSON object")
    return body


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class Fields:
    """Typed access to a JSON object's fields; remembers which were read."""

    def __init__(self, body: Mapping[str, Any], prefix: str = ""):
        self.body, self.prefix, self.seen = body, prefix, set()

    def value(self, name: str, required: bool = False):
        self.seen.add(name)
        if name not in self.body or self.body[name] is None:
            if required:
                raise ApiError("missing_field", f"{self.prefix}{name} is required", 422)
            return None
        return self.body[name]

    def text(self, name: str, *, required: bool = False, max_len: int = TEXT_MAX,
             default: str | None = None) -> str | None:
        value = self.value(name, required)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise invalid(self.prefix + name, "must be a non-empty string")
        if len(value) > max_len or any(ord(c) < 32 for c in value):
            raise invalid(self.prefix + name, f"at most {max_len} printable characters")
        return value

    def integer(self, name: str, *, lo: int, hi: int, required: bool = False,
                default: int | None = None) -> int | None:
        value = self.value(name, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise invalid(self.prefix + name, f"must be an integer from {lo} to {hi}")
        return value

    def boolean(self, name: str, *, required: bool = False, default: bool | None = None):
        value = self.value(name, required)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise invalid(self.prefix + name, "must be true or false")
        return value

    def obj(self, name: str, *, required: bool = False) -> dict | None:
        value = self.value(name, required)
        if value is not None and not isinstance(value, dict):
            raise invalid(self.prefix + name, "must be an object")
        return value

    def timestamp(self, name: str, *, required: bool = False) -> datetime | None:
        value = self.value(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid(self.prefix + name, "must be an ISO-8601 date-time string")
        return parse_timestamp(value, self.prefix + name)

    def done(self) -> None:
        """Refuse fields the request does not define (a typo would otherwise pass silently)."""
        unknown = sorted(set(self.body) - self.seen)
        if unknown:
            raise ApiError("unknown_field", f"unknown field: {self.prefix}{unknown[0]}", 422)


def parse_timestamp(value: str, name: str) -> datetime:
    """An ISO-8601 date-time with a UTC offset (``Z`` or ``+hh:mm``), as UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.utcoffset() is None:
            raise ValueError("no offset")
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise invalid(name, "must be an ISO-8601 date-time with an offset") from None


def query_int(params: Mapping[str, str] | None, name: str, *, lo: int, hi: int,
              default: int | None) -> int | None:
    raw = (params or {}).get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise bad_request("invalid_parameter", f"{name} must be an integer from {lo} to {hi}")
    return value


def query_timestamp(params: Mapping[str, str] | None, name: str) -> datetime | None:
    raw = (params or {}).get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_timestamp(raw, name)
    except ApiError:
        raise bad_request("invalid_parameter", f"{name} must be an ISO-8601 date-time") from None


def query_text(params: Mapping[str, str] | None, name: str, max_len: int = 1024) -> str | None:
    raw = (params or {}).get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_len:
        raise bad_request("invalid_parameter", f"{name} is too long")
    return raw


def known_query(params: Mapping[str, str] | None, allowed: set[str]) -> None:
    unknown = sorted(set(params or {}) - allowed)
    if unknown:
        raise bad_request("invalid_parameter", f"unknown query parameter: {unknown[0]}")
