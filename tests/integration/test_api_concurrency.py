"""Capacity and bans hold under concurrent requests (the embedded DynamoDB, through the handler).

The threads call the Chalice app through chalice's local API Gateway, as ``chalice local``
does; ``chalice.test.Client`` swaps ``os.environ`` per request, which threads must not do.
"""
from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from chalice.config import Config
from chalice.local import LocalGateway

from tests.integration.api_support import Api, store_env

SEATS = 64


@pytest.fixture(scope="module")
def api(dynamodb_endpoint):
    api = Api(store_env(dynamodb_endpoint))
    yield api
    api.close()


def post(gateway: LocalGateway, path: str, token: str) -> tuple[int, dict]:
    response = gateway.handle_request(
        "POST", path, {"authorization": f"Bearer {token}", "content-type": "application/json"},
        b"")
    return response["statusCode"], json.loads(response["body"])


def test_64_concurrent_joins_fill_the_63_free_seats_exactly(api):
    rid = api.create_room(name="crowd", policy={"maxParticipants": SEATS})["id"]
    api.join(rid, "first")
    tokens = [api.token(rid, f"guest-{i}") for i in range(SEATS)]
    gateway = LocalGateway(api.app, Config.create())
    barrier = Barrier(SEATS)

    def join(token):
        barrier.wait()
        return post(gateway, f"/rooms/{rid}/join", token)

    with ThreadPoolExecutor(SEATS) as pool:
        results = list(pool.map(join, tokens))

    outcomes = Counter(status if status < 400 else body["error"]["code"]
                       for status, body in results)
    assert outcomes == {200: SEATS - 1, "room_full": 1}, outcomes
    joined = [body["participantId"] for status, body in results if status == 200]
    assert len(set(joined)) == SEATS - 1

    events = api.events(rid)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))  # none lost or doubled
    joins = [e for e in events if e["type"] == "ParticipantJoined"]
    assert len(joins) == SEATS
    assert {e["data"]["participantId"] for e in joins} >= set(joined)
    state = api.ok("GET", f"/rooms/{rid}")
    assert state["counts"]["joined"] == SEATS


def test_no_join_gets_past_a_ban_under_concurrent_rejoins(api):
    rid = api.create_room(name="ban-race")["id"]
    _, member = api.join(rid, "mallory")
    rejoin_tokens = [api.token(rid, "mallory", replace=True) for _ in range(12)]
    gateway = LocalGateway(api.app, Config.create())
    barrier = Barrier(len(rejoin_tokens) + 1)

    def act(i):
        barrier.wait()
        if i == 0:
            return post(gateway, f"/rooms/{rid}/participants/{member['participantId']}/kick",
                        api.admin)
        return post(gateway, f"/rooms/{rid}/join", rejoin_tokens[i - 1])

    with ThreadPoolExecutor(len(rejoin_tokens) + 1) as pool:
        results = list(pool.map(act, range(len(rejoin_tokens) + 1)))
    if results[0][0] != 200:
        # a rejoin replaced the session first: the kick named a session that had left
        assert results[0][1]["error"]["code"] == "participant_left", results[0]
        active = [p for p in api.ok("GET", f"/rooms/{rid}")["participants"]
                  if p["identity"] == "mallory" and p["state"] == "joined"]
        api.ok("POST", f"/rooms/{rid}/participants/{active[0]['id']}/kick")
    refused = Counter(body["error"]["code"] for status, body in results[1:] if status >= 400)
    assert set(refused) <= {"banned"}, refused

    # in the recorded order, no join of mallory follows the kick
    events = api.events(rid)
    kicked_at = next(e["seq"] for e in events if e["type"] == "ParticipantKicked")
    assert not [e for e in events if e["seq"] > kicked_at and e["type"] == "ParticipantJoined"]
    state = api.ok("GET", f"/rooms/{rid}")
    assert "mallory" in {b["identity"] for b in state["bans"]}
    assert not [p for p in state["participants"]
                if p["identity"] == "mallory" and p["state"] == "joined"]
    assert api.error("POST", f"/rooms/{rid}/join", token=rejoin_tokens[0]) == (403, "banned")
