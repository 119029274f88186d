"""``make run``'s stack answers a path with no route in the API's error shape.

Reuses ``tests/e2e/test_local_stack.py``'s ``stack`` fixture (``python -m devstack.run``
on free ports, stopped with SIGINT). Plain ``chalice local`` answers 403 and copies the
caller's ``Authorization`` header into the body; the stack must do neither.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.e2e.test_local_stack import admin_token, stack  # noqa: F401 - the fixture



def test_unknown_path_is_route_not_found_and_the_token_is_not_echoed(stack):  # noqa: F811
    token = admin_token(stack)
    req = urllib.request.Request(f"http://127.0.0.1:{stack['port']}/no/such/route",
                                 headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(req, timeout=30)
    body = answer.value.read()
    assert answer.value.code == 404
    assert json.loads(body)["error"]["code"] == "route_not_found"
    assert token.encode() not in body and token.split(".")[1].encode() not in body
    log = (stack["data"] / "logs" / "chalice.log").read_text()
    assert token not in log
