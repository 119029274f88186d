"""Webhook deliveries over HTTP (urllib3), to addresses that were checked.

The host is resolved once per delivery; every address it resolves to must be allowed
(``domain.webhooks.address_allowed``), and the connection goes to the first of them,
with TLS still verified against the host name. A DNS answer that changes between the
check and the connection therefore cannot point a delivery somewhere else. Redirects are
never followed: a 3xx is a failed attempt like any other non-2xx.
"""
from __future__ import annotations

import socket
import time
from typing import Any, Callable

import certifi
import urllib3

from chalicelib.domain.webhooks import WebhookUrl, WebhookUrlNotAllowed, address_allowed, parse_url

Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class AddressGuard:
    """Refuses a URL whose host resolves to an address webhooks may not reach."""

    def __init__(self, allow_private: bool, resolver: Resolver = resolve):
        self.allow_private, self.resolver = allow_private, resolver

    def addresses(self, url: str) -> tuple[WebhookUrl, list[str]]:
        target = parse_url(url)
        try:
            addresses = self.resolver(target.host, target.port)
        except (OSError, UnicodeError):
            raise WebhookUrlNotAllowed(f"url: {target.host} does not resolve",
                                       field="url") from None
        refused = [a for a in addresses if not address_allowed(a, self.allow_private)]
        if refused or not addresses:
            raise WebhookUrlNotAllowed(
                f"url: {target.host} resolves to an address webhooks may not reach "
                "(loopback, private, link-local, multicast or reserved)", field="url")
        return target, addresses

    def check(self, url: str) -> None:
        self.addresses(url)


class UrllibSender:
    """POSTs a delivery; the outcome, never an exception, for whatever the receiver does."""

    def __init__(self, guard: AddressGuard, timeout: float):
        self.guard, self.timeout = guard, timeout

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        try:
            target, addresses = self.guard.addresses(url)
        except WebhookUrlNotAllowed as e:
            return outcome("refused", error=e.message)
        started = time.monotonic()
        try:
            pool = self._pool(target, addresses[0])
            with pool:
                response = pool.urlopen("POST", target.target, body=body,
                                        headers={**headers, "Host": _host_header(target)},
                                        redirect=False, retries=False, preload_content=True)
        except urllib3.exceptions.HTTPError as e:
            return outcome("failed", latency=time.monotonic() - started,
                           error=type(e).__name__)
        latency = time.monotonic() - started
        ok = 200 <= response.status < 300
        return outcome("delivered" if ok else "failed", response.status, latency,
                       None if ok else f"HTTP {response.status}")

    def _pool(self, target: WebhookUrl, address: str) -> urllib3.HTTPConnectionPool:
        timeout = urllib3.Timeout(connect=self.timeout, read=self.timeout)
        if target.scheme == "https":
            return urllib3.HTTPSConnectionPool(
                address, target.port, timeout=timeout, maxsize=1, cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(), server_hostname=target.host,
                assert_hostname=target.host)
        return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, maxsize=1)


def _host_header(target: WebhookUrl) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


def outcome(kind: str, code: int | None = None, latency: float | None = None,
            error: str | None = None) -> dict[str, Any]:
    return {"outcome": kind, "responseCode": code,
            "latencyMs": None if latency is None else round(latency * 1000, 1), "error": error}
