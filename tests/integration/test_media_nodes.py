"""Media nodes and the control plane on the embedded DynamoDB: heartbeats, assignment, death, leaves.

Everything goes through the Chalice handler (``chalice.test.Client``); the node
registry is the DynamoDB table on the embedded DynamoDB, and media tokens are checked with the media
node's own verifier.
"""
from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest

from chalicelib import bootstrap
from chalicelib.api.node_tokens import mint_node_token
from chalicelib.domain.nodes import NodeRecord
from chalicelib.persistence.nodes import DynamoDBNodeRegistry, InMemoryNodeRegistry
from media_node.signaling.tokens import verify_media_token
from tests.integration.api_support import Api, store_env

NODE_SECRET = "node-secret-" + "y" * 24


@pytest.fixture(scope="module")
def module_api(dynamodb_endpoint):
    api = Api(store_env(dynamodb_endpoint), node_secret=NODE_SECRET)
    yield api
    api.close()


@pytest.fixture()
def api(module_api):
    """The module's API, its node table emptied, and the clock at now."""
    module_api.clock.offset = timedelta()
    registry = bootstrap.build_node_registry(module_api.env)
    for node in registry.all():
        registry.remove(node.node_id)
    bootstrap.configure(node_registry=registry)
    yield module_api


def beat(api, node_id, participants=0, capacity=64, token=None, **extra):
    body = {"url": f"http://127.0.0.1:9/{node_id}", "rooms": 0, "participants": participants,
            "streams": 0, "cpu": 0.1, "capacity": capacity, **extra}
    return api.call("POST", f"/nodes/{node_id}/heartbeat", body,
                    token or mint_node_token(NODE_SECRET, node_id))


def sfu_room(api):
    return api.create_room(name="sfu", policy={"mediaMode": "SFU"})["id"]


def assigned(api, room_id):
    return [e["data"] for e in api.events(room_id) if e["type"] == "MediaNodeAssigned"]


def test_first_heartbeat_registers_the_node_in_its_table(api):
    status, body = beat(api, "node-a", participants=3)
    assert status == 200 and body["nodeId"] == "node-a" and body["healthy"] is True
    nodes = api.ok("GET", "/nodes")["nodes"]
    assert [(n["nodeId"], n["participants"], n["healthy"]) for n in nodes] == [("node-a", 3, True)]
    assert bootstrap.node_registry().get("node-a").url == "http://127.0.0.1:9/node-a"


@pytest.mark.parametrize("make_token, status, code", [
    (lambda: None, 401, "unauthorized"),
    (lambda: mint_node_token("not-the-node-secret-" + "z" * 20, "node-a"), 401, "unauthorized"),
    (lambda: mint_node_token(NODE_SECRET, "node-b"), 403, "wrong_node"),
    (lambda: mint_node_token(NODE_SECRET, "node-a", ttl=-60), 401, "token_expired"),
    (lambda: mint_node_token(NODE_SECRET, "node-a", ttl=3600), 401, "token_lifetime_too_long"),
    (lambda: jwt.encode({"iss": "node:node-a"}, NODE_SECRET, "HS256"), 401, "unauthorized"),
    (lambda: "admin", 403, "forbidden"),
])
def test_heartbeat_needs_the_nodes_own_token(api, make_token, status, code):
    token = make_token()
    body = {"url": "http://x", "rooms": 0, "participants": 0, "streams": 0, "cpu": 0,
            "capacity": 1}
    if token is None:
        sent, got = api.call("POST", "/nodes/node-a/heartbeat", body, token=None)
        got = got["error"]["code"]
    else:
        sent, got = api.error("POST", "/nodes/node-a/heartbeat", body, token=token)
    assert (sent, got) == (status, code)
    assert bootstrap.node_registry().all() == []


@pytest.mark.parametrize("change, code", [
    ({"url": "ftp://x"}, "invalid_field"), ({"participants": -1}, "invalid_field"),
    ({"cpu": "high"}, "invalid_field"), ({"capacity": 0}, "invalid_field"),
    ({"extra": 1}, "unknown_field"), ({"url": None}, "missing_field")])
def test_bad_heartbeats_are_refused_and_store_nothing(api, change, code):
    status, body = beat(api, "node-a", **change)
    assert (status, body["error"]["code"]) == (422, code)
    assert bootstrap.node_registry().all() == []


def test_join_assigns_the_least_loaded_node_and_grants_a_media_token(api):
    beat(api, "node-busy", participants=30)
    beat(api, "node-idle", participants=2)
    rid = sfu_room(api)
    _, joined = api.join(rid, "ann", "host")
    media = joined["media"]
    assert media["nodeId"] == "node-idle" and joined["mediaError"] is None
    assert media["url"] == f"http://127.0.0.1:9/node-idle/rooms/{rid}/whip"
    claims = verify_media_token(media["token"], NODE_SECRET, "node-idle")
    assert (claims.room, claims.participant_id, claims.role) == (rid, joined["participantId"], "host")
    assert claims.expires - time.time() <= 300
    with pytest.raises(Exception):
        verify_media_token(media["token"], NODE_SECRET, "node-busy")
    assert joined["mediaNode"]["nodeId"] == "node-idle"
    beat(api, "node-idle", participants=50)  # the room stays on its node while it lives
    _, second = api.join(rid, "bob", "speaker")
    assert second["media"]["nodeId"] == "node-idle"
    assert assigned(api, rid) == [{"nodeId": "node-idle", "url": "http://127.0.0.1:9/node-idle"}]


def test_the_media_token_carries_the_rooms_audio_only_policy_and_its_version(api):
    beat(api, "node-a")
    rid = api.create_room(name="talk", policy={"mediaMode": "SFU", "audioOnly": True})["id"]
    token, joined = api.join(rid, "ann", "speaker")
    claims = verify_media_token(joined["media"]["token"], NODE_SECRET, "node-a")
    assert (claims.audio_only, claims.seq) == (True, joined["version"])
    changed = api.ok("PATCH", f"/rooms/{rid}/policy", {"audioOnly": False})
    grant = api.ok("POST", f"/rooms/{rid}/media", token=token)["media"]
    claims = verify_media_token(grant["token"], NODE_SECRET, "node-a")
    assert (claims.audio_only, claims.seq) == (False, changed["version"])
    policy_changed = api.events(rid)[-1]
    assert policy_changed["type"] == "PolicyChanged" and policy_changed["seq"] == claims.seq
    assert policy_changed["data"]["policy"]["audioOnly"] is False


def test_without_a_healthy_node_the_join_succeeds_without_media(api):
    rid = sfu_room(api)
    token, joined = api.join(rid, "ann", "host")
    assert joined["status"] == "joined" and joined["media"] is None
    assert joined["mediaError"]["code"] == "no_media_node"
    response = api.client.http.post(f"/rooms/{rid}/media", body=b"", headers={
        "authorization": f"Bearer {token}", "content-type": "application/json"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    beat(api, "node-a")
    grant = api.ok("POST", f"/rooms/{rid}/media", token=token)["media"]
    assert grant["nodeId"] == "node-a"
    assert verify_media_token(grant["token"], NODE_SECRET, "node-a").identity == "ann"
    assert [e["nodeId"] for e in assigned(api, rid)] == ["node-a"]


def test_a_dead_nodes_room_moves_to_a_healthy_node(api):
    beat(api, "node-a")
    rid = sfu_room(api)
    token, _ = api.join(rid, "ann", "host")
    api.clock.offset += timedelta(seconds=16)  # node-a falls silent
    assert api.ok("GET", "/nodes")["nodes"][0]["healthy"] is False
    beat(api, "node-b", participants=40)
    _, joined = api.join(rid, "bob", "speaker")
    assert joined["media"]["nodeId"] == "node-b" and joined["mediaNode"]["nodeId"] == "node-b"
    grant = api.ok("POST", f"/rooms/{rid}/media", token=token)["media"]
    assert grant["nodeId"] == "node-b"  # ann, told to reconnect, gets the new node
    assert [e["nodeId"] for e in assigned(api, rid)] == ["node-a", "node-b"]


def test_p2p_rooms_and_waiting_participants_get_no_media(api):
    beat(api, "node-a")
    rid = api.create_room(name="p2p", policy={"mediaMode": "P2P"})["id"]
    _, joined = api.join(rid, "ann", "host")
    assert joined["media"] is None and joined["mediaError"] is None and assigned(api, rid) == []


def test_a_node_reads_the_events_of_its_own_rooms_only(api):
    beat(api, "node-a")
    rid = sfu_room(api)
    api.join(rid, "ann", "host")
    own = mint_node_token(NODE_SECRET, "node-a")
    events = api.ok("GET", f"/rooms/{rid}/events?after=0&wait=0", token=own)["events"]
    assert events[-1]["type"] == "MediaNodeAssigned"
    other = mint_node_token(NODE_SECRET, "node-b")
    assert api.error("GET", f"/rooms/{rid}/events", token=other) == (403, "not_room_node")
    assert api.error("GET", f"/rooms/{rid}", token=own) == (403, "wrong_room")
    assert api.error("POST", "/rooms", {"name": "x"}, token=own) == (403, "forbidden")
    assert api.error("POST", f"/rooms/{rid}/join", token=own) == (403, "wrong_room")


def test_a_nodes_disconnect_report_is_a_leave_with_its_reason(api):
    beat(api, "node-a")
    rid = sfu_room(api)
    _, joined = api.join(rid, "ann", "host")
    path = f"/rooms/{rid}/participants/{joined['participantId']}/disconnected"
    other = mint_node_token(NODE_SECRET, "node-b")
    assert api.error("POST", path, {"reason": "x"}, token=other) == (403, "not_room_node")
    own = mint_node_token(NODE_SECRET, "node-a")
    assert api.error("POST", path, {"why": "x"}, token=own) == (422, "unknown_field")
    assert api.ok("POST", path, {"reason": "connection_failed"}, token=own)["recorded"] is True
    left = [e for e in api.events(rid) if e["type"] == "ParticipantLeft"]
    assert left[0]["actor"] == {"kind": "node", "id": "node-a"}
    assert left[0]["data"]["reason"] == "connection_failed"
    # the node retries when unsure: a second report changes nothing
    assert api.ok("POST", path, {"reason": "connection_failed"}, token=own)["recorded"] is False
    assert len([e for e in api.events(rid) if e["type"] == "ParticipantLeft"]) == 1
    assert api.error("POST", path, {}, token="admin") == (403, "forbidden")


@pytest.mark.parametrize("kind", ["memory", "dynamodb"])
def test_registry_contract(dynamodb_endpoint, kind):
    if kind == "memory":
        registry = InMemoryNodeRegistry()
    else:
        registry = bootstrap.build_node_registry(store_env(dynamodb_endpoint))
        assert isinstance(registry, DynamoDBNodeRegistry)
    rec = NodeRecord("n1", "http://a", 1, 2, 3, 0.5, 64, seen=10.0, registered=10.0)
    assert registry.save(rec) == rec and registry.get("n1") == rec
    later = registry.save(NodeRecord("n1", "http://b", 0, 0, 0, 0.0, 8, seen=20.0, registered=20.0))
    assert (later.registered, later.url, later.seen) == (10.0, "http://b", 20.0)
    registry.save(NodeRecord("n2", "http://c", 0, 0, 0, 0.0, 8, seen=30.0, registered=30.0))
    assert registry.get("n1") == later and registry.get("nope") is None
    assert sorted(r.node_id for r in registry.all()) == ["n1", "n2"]
    registry.remove("n1")
    registry.remove("never-seen")  # forgetting an unknown node is no error
    assert [r.node_id for r in registry.all()] == ["n2"]
