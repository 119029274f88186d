"""Concurrent joins of one SFU room agree on its node (the embedded DynamoDB, through the handler).

Threads call the app through chalice's ``LocalGateway``, as ``chalice local`` does (see
``test_api_concurrency.py`` for why not ``chalice.test.Client``).
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from chalice.config import Config
from chalice.local import LocalGateway

from chalicelib.api.node_tokens import mint_node_token
from tests.integration.api_support import api_with_nodes

NODE_SECRET = "node-secret-" + "c" * 24
THREADS = 16


@pytest.fixture(scope="module")
def api(dynamodb_endpoint):
    with api_with_nodes(dynamodb_endpoint, NODE_SECRET) as api:
        yield api


def beat(api, node_id):
    api.ok("POST", f"/nodes/{node_id}/heartbeat", {
        "url": f"http://127.0.0.1:9/{node_id}", "rooms": 0, "participants": 0, "streams": 0,
        "cpu": 0.0, "capacity": 64}, token=mint_node_token(NODE_SECRET, node_id))


def all_at_once(api, path: str, tokens: list[str]) -> list[tuple[int, dict]]:
    gateway, barrier = LocalGateway(api.app, Config.create()), Barrier(len(tokens))

    def post(token):
        barrier.wait()
        r = gateway.handle_request("POST", path, {"authorization": f"Bearer {token}",
                                                  "content-type": "application/json"}, b"")
        return r["statusCode"], json.loads(r["body"])

    with ThreadPoolExecutor(len(tokens)) as pool:
        return list(pool.map(post, tokens))


def assignments(api, rid) -> list[str]:
    return [e["data"]["nodeId"] for e in api.events(rid) if e["type"] == "MediaNodeAssigned"]


def test_concurrent_first_joins_and_a_concurrent_move_each_record_one_assignment(api):
    beat(api, "node-a")
    beat(api, "node-b")
    rid = api.create_room(name="rush", policy={"mediaMode": "SFU"})["id"]
    tokens = [api.token(rid, f"guest-{i}") for i in range(THREADS)]
    results = all_at_once(api, f"/rooms/{rid}/join", tokens)
    assert {status for status, _ in results} == {200}, results[:2]
    assert {body["media"]["nodeId"] for _, body in results} == {"node-a"}  # ties: by id
    assert assignments(api, rid) == ["node-a"]

    api.clock.offset += timedelta(seconds=16)  # node-a goes silent, node-b keeps beating
    beat(api, "node-b")
    results = all_at_once(api, f"/rooms/{rid}/media", tokens)
    assert {status for status, _ in results} == {200}, results[:2]
    assert {body["media"]["nodeId"] for _, body in results} == {"node-b"}
    assert assignments(api, rid) == ["node-a", "node-b"]
