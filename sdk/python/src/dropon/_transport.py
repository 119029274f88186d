"""What the sync and async clients share below their methods: a request as data
(:class:`Spec`), admin tokens signed on the caller's side, how an answer becomes a result or
a typed error, and when to retry (503 only, after ``Retry-After`` or a backoff)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import quote

import jwt

from .errors import error_for

ADMIN_TOKEN_TTL = 300  # seconds; the API takes at most an hour
RENEW_BEFORE = 60  # a cached admin token is replaced this long before it expires


@dataclass(frozen=True)
class Spec:
    """One API call as data: what both clients send, and how to read the answer.

    :param token: a participant token, or ``None`` for the client's own admin token.
    :param parse: turns the answer's JSON into the result.
    """

    method: str
    path: str
    json: Any = None
    params: dict = field(default_factory=dict)
    token: str | None = None
    parse: Callable[[Any], Any] = lambda data: data


def path(template: str, *ids: str) -> str:
    """``template`` with each ``{}`` replaced by an id, quoted for a URL path."""
    return template.format(*(quote(str(i), safe="") for i in ids))


def body(**values: Any) -> dict:
    """A JSON body from keyword arguments: camelCase keys, ``None`` left out."""
    return {camel(k): v for k, v in values.items() if v is not None}


def camel(name: str) -> str:
    """``starts_at`` -> ``startsAt``."""
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def timestamp(value: datetime | str | None) -> str | None:
    """ISO-8601 with an offset, as the API takes times (naive datetimes are UTC)."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


class AdminTokens:
    """Short-lived admin JWTs signed with the API secret (``docs/api.md``), reused while
    more than a minute of their life is left."""

    def __init__(self, api_key: str | None, api_secret: str | None,
                 ttl: int = ADMIN_TOKEN_TTL, clock: Callable[[], float] = time.time):
        self.api_key, self.api_secret, self.ttl, self.clock = api_key, api_secret, ttl, clock
        self._token, self._expires = "", 0.0

    def mint(self, ttl: int | None = None) -> str:
        """A new admin token living ``ttl`` seconds (the client's default when ``None``)."""
        if not (self.api_key and self.api_secret):
            raise ValueError("an admin call needs api_key and api_secret (DROPON_API_KEY, "
                             "DROPON_API_SECRET)")
        issued = int(self.clock())
        return jwt.encode({"iss": self.api_key, "iat": issued, "exp": issued + (ttl or self.ttl)},
                          self.api_secret, algorithm="HS256")

    def current(self) -> str:
        """The cached admin token, renewed when it is near its end."""
        if self.clock() > self._expires - RENEW_BEFORE:
            self._token, self._expires = self.mint(), self.clock() + self.ttl
        return self._token


def headers(token: str, spec: Spec) -> dict:
    """The request's headers: the bearer token, and JSON when there is a body."""
    sent = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if spec.json is not None or spec.method in ("POST", "PATCH", "PUT"):
        sent["Content-Type"] = "application/json"
    return sent


def request_args(spec: Spec, tokens: AdminTokens) -> dict:
    """Keyword arguments for ``httpx.Client.request`` (and its async twin)."""
    token = spec.token or tokens.current()
    payload = spec.json if spec.json is not None else ({} if spec.method == "POST" else None)
    args = {"method": spec.method, "url": spec.path, "headers": headers(token, spec),
            "params": {k: str(v) for k, v in spec.params.items() if v is not None}}
    if payload is not None:
        args["json"] = payload
    return args


def retry_after(headers_) -> float | None:
    """``Retry-After`` in seconds, when the answer gives it."""
    value = headers_.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Retry:
    """Retries for 503 answers only: ``Retry-After`` when given, else ``backoff * 2**n``,
    at most ``attempts`` times and never longer than ``cap`` seconds a wait."""

    attempts: int = 3
    backoff: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, status: int, headers_) -> float | None:
        """Seconds to wait before retrying, or ``None`` when the answer is final."""
        if status != 503 or attempt >= self.attempts:
            return None
        given = retry_after(headers_)
        return min(self.cap, given if given is not None else self.backoff * 2 ** attempt)


def result(spec: Spec, status: int, headers_, content: bytes) -> Any:
    """The parsed result of a 2xx answer; the typed error of any other."""
    import json
    try:
        data = json.loads(content) if content else None
    except ValueError:
        data = None
    if 200 <= status < 300:
        return spec.parse(data)
    raise error_for(status, data, retry_after(headers_))
