"""Edge errors for real: the local API server over HTTP, and an oversized event on the embedded DynamoDB.

The local server is ``python -m devstack.local_api`` (what ``make run`` starts) on the embedded DynamoDB,
stopped by its pid. No HTTP input can make an event over DynamoDB's 400 KB (bodies are
capped at 64 KiB, metadata at 4 KB), so the oversized event is saved through the
application itself, on the real DynamoDB recorders, and its error is then mapped.
An unavailable store is a real one that stops: a moto server of the test's own.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate, event

from chalicelib.api import errors
from chalicelib.api.auth import mint_admin_token
from chalicelib.persistence.errors import ItemTooLargeError
from tests.integration.api_support import store_env
from tests.integration.local_api import KEY, SECRET, local_api


@pytest.fixture(scope="module")
def api(dynamodb_endpoint, tmp_path_factory):
    with local_api(dynamodb_endpoint, tmp_path_factory.mktemp("local-api")) as server:
        yield server.url, server.server, server.log


def get(url: str, headers: dict | None = None, method: str = "GET"):
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_unknown_path_is_404_route_not_found_without_echo(api):
    url, _, log = api
    secret_token = "Bearer leak-" + uuid4().hex
    for path in ("/nope", "/rooms/abc/def/ghi", "/"):
        for headers in ({}, {"Authorization": secret_token}):
            status, sent, body = get(url + path, headers)
            assert status == 404, (path, status, body)
            assert json.loads(body) == {"error": {"code": "route_not_found",
                                                  "message": "no such route"}}
            assert sent["Content-Type"] == "application/json"
            assert secret_token.encode() not in body
            assert not any(secret_token in v for v in sent.values())
    assert secret_token not in log.read_text()


def test_known_routes_still_answer(api):
    url, _, _ = api
    token = mint_admin_token(KEY, SECRET, 300)
    status, _, body = get(url + "/rooms", {"Authorization": f"Bearer {token}"})
    assert status == 200 and "rooms" in json.loads(body)
    status, _, body = get(url + "/rooms", {})  # a known path without a token
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
    status, _, body = get(url + "/rooms", {"Authorization": f"Bearer {token}"}, "PUT")
    assert status == 405 and json.loads(body)["error"]["code"] == "method_not_allowed"


def test_stops_by_pid_without_children(api):
    _, server, _ = api
    children = f"/proc/{server.pid}/task/{server.pid}/children"
    assert open(children).read().split() == []  # no reloader worker to leave behind


class Blob(Aggregate):
    """An aggregate whose event can be made larger than any DynamoDB item."""

    @event("Written")
    def write(self, data: str) -> None:
        self.data = data


def test_oversized_event_is_refused_whole_with_its_code(dynamodb_endpoint):
    from chalicelib.application import RoomsApplication
    from chalicelib.domain.actor import Actor

    app = RoomsApplication(env=store_env(dynamodb_endpoint))
    before = app.recorder.max_notification_id()
    room = app.create_room(Actor("api_key", "k"), name="big", persistent=True)
    after_room = app.recorder.max_notification_id()
    blob = Blob()
    blob.write("x" * 500_000)
    with pytest.raises(ItemTooLargeError) as refused:
        app.save(blob)
    # nothing of the refused save was stored: no event, no notification id
    assert app.recorder.select_events(blob.id) == []
    assert app.recorder.max_notification_id() == after_room > (before or 0)
    assert app.get_room(room["id"])["version"] == room["version"]
    response = errors.to_response(refused.value)
    body = json.loads(response.body) if isinstance(response.body, str) else response.body
    assert response.status_code == 422 and body["error"]["code"] == "event_too_large"


def test_store_going_away_is_503_store_unavailable():
    """DynamoDB stops answering mid-session: reads and writes get 503 with Retry-After."""
    from devstack.dynamodb import embedded_dynamodb, endpoint
    from tests.integration.api_support import Api

    server = embedded_dynamodb().start()
    api = Api(store_env(endpoint(server)))
    try:
        room = api.create_room()
        assert api.call("GET", f"/rooms/{room['id']}")[0] == 200
        server.stop()
        for method, path, body in (("GET", f"/rooms/{room['id']}", None),
                                   ("POST", "/rooms", {"name": "x", "persistent": True})):
            sent = {"content-type": "application/json",
                    "authorization": f"Bearer {api.admin}"}
            response = api.client.http.request(method, path, headers=sent,
                                               body=json.dumps(body) if body else b"")
            assert response.status_code == 503, response.body
            assert json.loads(response.body)["error"]["code"] == "store_unavailable"
            assert response.headers["Retry-After"].isdigit()
    finally:
        api.close()
        server.stop()
