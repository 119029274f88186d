"""The SDK without a server: retries on 503 only (``httpx.MockTransport``), the typed
error of every answer, admin tokens the API accepts, webhook signatures with their
5-minute tolerance, and the socket's resume cursor."""
from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx
import jwt
import pytest

import dropon
from dropon._socket import Follower, refusal
from dropon.webhooks import SignatureError, sign, verify
from devstack.process import ROOT


def answering(*answers):
    """A transport giving ``answers`` (status, headers, body) in turn; records requests."""
    sent = []

    def handler(request):
        sent.append(request)
        status, headers, body = answers[min(len(sent), len(answers)) - 1]
        return httpx.Response(status, headers=headers, json=body)
    return httpx.MockTransport(handler), sent


def client(transport, **kw):
    return dropon.Client("http://api.test", api_key="k", api_secret="s" * 32,
                         transport=transport, backoff=0, **kw)


BUSY = (503, {"Retry-After": "0"}, {"error": {"code": "store_unavailable", "message": "busy"}})
ROOM = (200, {}, {"id": "r1", "status": "open", "version": 3})


def test_a_503_is_retried_after_retry_after_then_answers():
    transport, sent = answering(BUSY, BUSY, ROOM)
    room = client(transport).get_room("r1")
    assert (room.id, room.version, len(sent)) == ("r1", 3, 3)


def test_a_503_that_lasts_raises_its_typed_error_with_retry_after():
    transport, sent = answering(BUSY)
    with pytest.raises(dropon.StoreUnavailable) as busy:
        client(transport, retries=2).get_room("r1")
    assert (busy.value.status, busy.value.retry_after, len(sent)) == (503, 0.0, 3)


@pytest.mark.parametrize("status, code, error", [
    (500, "internal_error", dropon.DropOnError), (409, "room_full", dropon.RoomFull),
    (401, "token_expired", dropon.TokenExpired), (403, "not_a_host", dropon.NotAHost),
    (409, "some_new_state", dropon.Conflict), (404, "room_not_found", dropon.RoomNotFound),
    (409, "host_required", dropon.HostRequired)])
def test_nothing_else_is_retried_and_each_answer_has_its_type(status, code, error):
    transport, sent = answering((status, {}, {"error": {"code": code, "message": "no"}}))
    with pytest.raises(error) as raised:
        client(transport).get_room("r1")
    assert (raised.value.code, raised.value.status, len(sent)) == (code, status, 1)


def test_the_async_client_retries_the_same_way():
    transport, sent = answering(BUSY, ROOM)

    async def call():
        async with dropon.AsyncClient("http://api.test", api_key="k", api_secret="s" * 32,
                                      transport=transport, backoff=0) as c:
            return await c.get_room("r1")
    assert asyncio.run(call()).id == "r1" and len(sent) == 2


def test_an_unreachable_api_is_connection_failed():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)
    with pytest.raises(dropon.ConnectionFailed):
        client(httpx.MockTransport(refuse)).list_nodes()


def test_requests_carry_a_short_lived_admin_token_or_the_participants():
    transport, sent = answering(ROOM)
    c = client(transport)
    c.create_room(policy={"stageMode": True})
    claims = jwt.decode(sent[0].headers["Authorization"].split()[1], "s" * 32,
                        algorithms=["HS256"])
    assert claims["iss"] == "k" and 0 < claims["exp"] - time.time() <= 300
    assert json.loads(sent[0].content) == {"name": "room", "policy": {"stageMode": True},
                                           "persistent": True}
    c.raise_hand("r 1", "participant-jwt")
    assert sent[1].headers["Authorization"] == "Bearer participant-jwt"
    assert sent[1].url.raw_path == b"/rooms/r%201/hand"
    with pytest.raises(ValueError):
        c.room_at("r1")


def test_webhook_signatures_verify_within_five_minutes():
    body, now = b'{"id":"n1","type":"RoomCreated"}', time.time()
    header = sign(body, "whsec_x", int(now) - 299)
    assert verify(body, header, "whsec_x")["id"] == "n1"
    for bad in (sign(body, "whsec_x", int(now) - 301), sign(body, "whsec_y"), None, "t=1"):
        with pytest.raises(SignatureError):
            verify(body, bad, "whsec_x")
    rotated = sign(body, ["whsec_new", "whsec_x"])
    assert verify(body, rotated, "whsec_x") == verify(body, rotated, "whsec_new")


def test_the_sdk_ships_the_servers_signature_module_as_it_is():
    shipped = ROOT / "sdk" / "python" / "src" / "dropon" / "webhooks.py"
    assert shipped.read_text() == (ROOT / "chalicelib" / "domain" / "signature.py").read_text()


def test_the_resume_cursor_never_yields_a_seq_twice_and_refusals_are_typed():
    follower = Follower("r1", "ws://x", lambda: "t", after=4)
    seqs = [4, 5, 5, 7, 6, 8]
    taken = [follower.take(json.dumps({"type": "HAND_RAISED", "seq": s})) for s in seqs]
    assert [e.seq for e in taken if e] == [5, 7, 8]
    assert follower.take('{"type": "REPLY"}') is None
    assert "after=8" in follower.connect_url()
    error = refusal(4403, "banned: the identity is banned")
    assert isinstance(error, dropon.Banned) and error.status == 403
    assert refusal(1006, "") is None
    with pytest.raises(dropon.TokenExpired):
        follower.closed(4401, "token_expired: the token has expired")
    assert follower.closed(1006, "") > 0


def test_every_public_item_of_the_sdk_has_a_docstring():
    import importlib
    import inspect
    import pkgutil
    public = [importlib.import_module(m.name) for m in pkgutil.walk_packages(
        dropon.__path__, "dropon.") if not m.name.rsplit(".", 1)[1].startswith("_")]
    missing = []
    for module in [dropon, *public]:
        missing += [module.__name__] if not module.__doc__ else []
        for name, item in vars(module).items():
            if name.startswith("_") or getattr(item, "__module__", None) != module.__name__:
                continue
            if not (inspect.isclass(item) or inspect.isfunction(item)):
                continue
            members = [(name, item)] + [(f"{name}.{n}", m) for n, m in vars(item).items()
                                        if inspect.isclass(item) and not n.startswith("_")
                                        and (inspect.isfunction(m) or isinstance(m, property))]
            missing += [f"{module.__name__}.{n}" for n, m in members if not m.__doc__]
    for name in dir(dropon.Client):  # the shared calls, seen from both clients
        if not name.startswith("_") and callable(getattr(dropon.Client, name)):
            if not getattr(dropon.Client, name).__doc__:
                missing.append(f"Client.{name}")
    assert missing == []


def test_the_sdk_imports_nothing_of_the_server():
    import ast
    allowed = {"httpx", "websockets", "jwt", "click", "rich", "dropon"}
    found = set()
    for path in (ROOT / "sdk" / "python" / "src" / "dropon").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    assert found - set(sys.stdlib_module_names) - allowed == set()
    assert {"httpx", "websockets", "jwt", "click", "rich"} <= found
