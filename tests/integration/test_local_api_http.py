"""``make run``'s API server over real HTTP: bursts of connections, every method, real joins.

A ``python -m devstack.local_api`` process on the embedded DynamoDB (tests/integration/
local_api.py); requests are written on plain sockets. No timing is asserted.
"""
from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from chalicelib.api import openapi
from tests.integration.local_api import exchange, local_api, raw

BURST = 256
SEATS = 64
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
           "FOO")
NO_ROUTE = ("/nope", "/rooms/r1/participants/p1/admit/again", "/rooms/r1/unknown")


@pytest.fixture(scope="module")
def api(dynamodb_endpoint, tmp_path_factory):
    with local_api(dynamodb_endpoint, tmp_path_factory.mktemp("local-api")) as server:
        yield server


def together(count: int, work) -> list:
    """``work(i)`` for each i in ``count`` threads released at once; exceptions returned."""
    barrier = Barrier(count)

    def run(i):
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # noqa: BLE001 - a reset or refusal is what is counted
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_a_burst_of_connections_is_answered_without_a_reset(api):
    token = api.admin()
    paths = ("/rooms?limit=5", "/openapi.json")
    results = together(BURST, lambda i: raw(api.port, "GET", paths[i % 2],
                                            {"Authorization": f"Bearer {token}"}))
    failures = [r for r in results if isinstance(r, Exception)]
    assert failures == [], Counter(type(f).__name__ for f in failures)
    assert Counter(status for status, _, _ in results) == {200: BURST}


def test_64_concurrent_joins_over_http_admit_exactly_the_seats(api):
    room = api.ok("POST", "/rooms", {"name": "crowd", "persistent": True,
                                     "policy": {"maxParticipants": SEATS}})["id"]
    grant = lambda identity: api.ok("POST", f"/rooms/{room}/tokens",  # noqa: E731
                                    {"identity": identity, "role": "speaker"})["token"]
    api.ok("POST", f"/rooms/{room}/join", token=grant("first"))
    tokens = [grant(f"guest-{i}") for i in range(SEATS)]
    results = together(SEATS, lambda i: api.call("POST", f"/rooms/{room}/join",
                                                 token=tokens[i]))
    failures = [r for r in results if isinstance(r, Exception)]
    assert failures == [], Counter(type(f).__name__ for f in failures)
    outcomes = Counter(status if status < 400 else json.loads(body)["error"]["code"]
                       for status, _, body in results)
    assert outcomes == {200: SEATS - 1, "room_full": 1}, outcomes
    state = api.ok("GET", f"/rooms/{room}")
    assert state["counts"]["joined"] == SEATS
    joined = {p["identity"] for p in state["participants"] if p["state"] == "joined"}
    assert len(joined) == SEATS


def documented() -> dict[str, set[str]]:
    """Each documented path, with ids filled in, and its documented methods."""
    filled = {}
    for path, ops in openapi.document()["paths"].items():
        concrete = path.format(roomId="r1", participantId="p1", identity="ada", nodeId="n1",
                               destinationId="d1", recordingId="rec1",
                               webhookId="00000000-0000-4000-8000-000000000001")
        filled[concrete] = {method.upper() for method in ops}
    return filled


def is_error(body: bytes, code: str) -> bool:
    data = json.loads(body)
    return set(data) == {"error"} and data["error"]["code"] == code


@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_every_path_is_answered_in_json(api, method):
    token = {"Authorization": f"Bearer {api.admin()}"}
    for path, methods in documented().items():
        status, headers, body = raw(api.port, method, path, token)
        where = (method, path, status, body[:200])
        if method == "OPTIONS":  # the CORS preflight API Gateway answers for every route
            assert status == 200 and body == b"", where
            allowed = set(headers["access-control-allow-methods"].split(","))
            assert allowed == methods | {"OPTIONS"}, where
        elif method == "HEAD" and "GET" in methods:
            # GET's status and headers, no body
            got_status, got_headers, got_body = raw(api.port, "GET", path, token)
            assert (status, body) == (got_status, b""), where
            assert headers["content-type"] == "application/json", where
            if path == "/openapi.json":
                assert int(headers["content-length"]) == len(got_body), where
        elif method in methods:
            assert headers["content-type"] == "application/json", where
            assert not is_error(body, "method_not_allowed"), where
        else:
            assert status == 405, where
            assert set(headers["allow"].replace(" ", "").split(",")) == methods, where
            if method != "HEAD":
                assert is_error(body, "method_not_allowed"), where
            assert headers["content-type"] == "application/json", where
    for path in NO_ROUTE:
        status, headers, body = raw(api.port, method, path, token)
        assert status == 404 and headers["content-type"] == "application/json", (method, path)
        assert body == b"" if method == "HEAD" else is_error(body, "route_not_found"), path


@pytest.mark.parametrize("request_line,status,code", [
    (b"GET /rooms HTTP/1.1 extra", 400, "invalid_request"),
    (b"GET /rooms HTTP/3.0", 505, "http_version_not_supported"),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1", 414, "uri_too_long"),
])
def test_what_the_http_parser_refuses_is_json_too(api, request_line, status, code):
    got, headers, body = exchange(api.port, request_line + b"\r\nHost: x\r\n\r\n")
    assert got == status and headers["content-type"] == "application/json", body[:300]
    assert is_error(body, code)
