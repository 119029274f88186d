"""Bad input gets a stable error code in the one shape, and nothing stored changes.

Each case snapshots every item of the module's tables (moto), makes one bad request
through the Chalice handler, checks status and code, and compares the tables again.
"""
from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from chalicelib.api.auth import mint_admin_token, mint_participant_token
from tests.integration.api_support import KEY, SECRET, Api, stored_items, store_env


@pytest.fixture(scope="module")
def world(dynamodb_endpoint):
    api = Api(store_env(dynamodb_endpoint))
    stage = api.create_room(name="stage", policy={"stageMode": True})["id"]
    other = api.create_room(name="other")["id"]
    tokens = {"admin": "admin", "none": None}
    tokens["host"], host = api.join(stage, "host-1", "host")
    tokens["speaker"], speaker = api.join(stage, "speaker-1", "speaker")
    tokens["audience"], _ = api.join(stage, "aud-1", "audience")
    tokens["fresh"] = api.token(stage, "never-joined")
    tokens["other_room"] = api.token(other, "host-9", "host")
    tokens["expired"] = mint_admin_token(KEY, SECRET, 60, now=time.time() - 600)
    tokens["forged"] = mint_admin_token(KEY, "not-the-secret-" + "y" * 20)
    tokens["long_lived"] = mint_admin_token(KEY, SECRET, 30 * 24 * 3600)
    tokens["not_yet"], _ = mint_participant_token(api.settings, KEY, room_id=stage,
                                                  identity="later", role="speaker",
                                                  ttl_seconds=600, now=time.time() + 300)
    tokens["no_exp"] = jwt.encode({"iss": KEY}, SECRET, algorithm="HS256")
    api.ok("PATCH", f"/rooms/{other}/policy", {"waitingRoom": True})
    ids = {"stage": stage, "other": other, "unknown": str(uuid.uuid4()),
           "host_pid": host["participantId"], "speaker_pid": speaker["participantId"]}
    yield api, tokens, ids
    api.close()


BIG = json.dumps({"name": "big", "metadata": {"blob": "x" * 70_000}})

# (method, path, body: dict | raw str | bytes | None, token, headers, (status, code))
CASES = [
    ("POST", "/rooms", "{", "admin", {}, (400, "invalid_json")),
    ("POST", "/rooms", "[1, 2]", "admin", {}, (400, "invalid_json")),
    ("POST", "/rooms", b"\xff\xfe{}", "admin", {}, (400, "invalid_json")),
    ("POST", "/rooms", '{"name": NaN}', "admin", {}, (400, "invalid_json")),
    ("POST", "/rooms", {}, "admin", {}, (422, "missing_field")),
    ("POST", "/rooms", {"name": 5}, "admin", {}, (422, "invalid_field")),
    ("POST", "/rooms", {"name": "x", "persistent": "yes"}, "admin", {}, (422, "invalid_field")),
    ("POST", "/rooms", {"name": "x", "colour": 1}, "admin", {}, (422, "unknown_field")),
    ("POST", "/rooms", {"name": "x", "startsAt": "soon"}, "admin", {}, (422, "invalid_field")),
    ("POST", "/rooms", {"name": "x", "policy": {"maxParticipants": "many"}, "persistent": True}, "admin", {},
     (422, "invalid_policy")),
    ("POST", "/rooms", {"name": "x", "policy": {"maxParticipants": 1000}, "persistent": True}, "admin", {},
     (422, "invalid_policy")),
    ("POST", "/rooms", {"name": "x", "policy": {"bogus": True}, "persistent": True}, "admin", {},
     (422, "invalid_policy")),
    ("POST", "/rooms", {"name": "x", "endsAt": "2001-01-01T00:00:00Z"}, "admin", {},
     (422, "invalid_argument")),
    ("POST", "/rooms", BIG, "admin", {}, (413, "body_too_large")),
    ("POST", "/rooms", {"name": "x"}, "none", {}, (401, "unauthorized")),
    ("POST", "/rooms", {"name": "x"}, "expired", {}, (401, "token_expired")),
    ("POST", "/rooms", {"name": "x"}, "forged", {}, (401, "unauthorized")),
    ("POST", "/rooms", {"name": "x"}, "long_lived", {}, (401, "token_lifetime_too_long")),
    ("POST", "/rooms", {"name": "x"}, "no_exp", {}, (401, "unauthorized")),
    ("POST", "/rooms", {"name": "x"}, "host", {}, (403, "forbidden")),
    ("POST", "/rooms", {"name": "x"}, "admin", {"content-type": "text/plain"},
     (415, "unsupported_media_type")),
    ("PUT", "/rooms", {"name": "x"}, "admin", {}, (405, "method_not_allowed")),
    ("GET", "/rooms?limit=0", None, "admin", {}, (400, "invalid_parameter")),
    ("GET", "/rooms?limit=abc", None, "admin", {}, (400, "invalid_parameter")),
    ("GET", "/rooms", None, "speaker", {}, (403, "forbidden")),
    ("GET", "/rooms/{unknown}", None, "admin", {}, (404, "room_not_found")),
    ("GET", "/rooms/not-a-room-id", None, "admin", {}, (404, "room_not_found")),
    ("GET", "/rooms/{stage}?version=abc", None, "admin", {}, (400, "invalid_parameter")),
    ("GET", "/rooms/{stage}?version=9999", None, "admin", {}, (404, "version_not_found")),
    ("GET", "/rooms/{stage}?at=yesterday", None, "admin", {}, (400, "invalid_parameter")),
    ("GET", "/rooms/{stage}", None, "other_room", {}, (403, "wrong_room")),
    ("PATCH", "/rooms/{stage}/policy", {"waitingRoom": "yes"}, "admin", {},
     (422, "invalid_policy")),
    ("PATCH", "/rooms/{stage}/policy", "[]", "admin", {}, (400, "invalid_json")),
    ("PATCH", "/rooms/{stage}/policy", {}, "admin", {}, (422, "missing_field")),
    ("PATCH", "/rooms/{stage}/policy", {"waitingRoom": True}, "speaker", {},
     (403, "not_a_host")),
    ("PATCH", "/rooms/{unknown}/policy", {"waitingRoom": True}, "admin", {},
     (404, "room_not_found")),
    ("POST", "/rooms/{stage}/close", {"reason": 7}, "admin", {}, (422, "invalid_field")),
    ("POST", "/rooms/{stage}/close", {}, "audience", {}, (403, "not_a_host")),
    ("POST", "/rooms/{stage}/tokens", {"identity": "a b", "role": "speaker"}, "admin", {},
     (422, "invalid_field")),
    ("POST", "/rooms/{stage}/tokens", {"identity": "ada", "role": "king"}, "admin", {},
     (422, "invalid_field")),
    ("POST", "/rooms/{stage}/tokens", {"identity": "ada"}, "admin", {}, (422, "missing_field")),
    ("POST", "/rooms/{stage}/tokens", {"identity": "ada", "role": "host"}, "host", {},
     (403, "forbidden")),
    ("POST", "/rooms/{unknown}/tokens", {"identity": "ada", "role": "host"}, "admin", {},
     (404, "room_not_found")),
    ("POST", "/rooms/{stage}/join", None, "admin", {}, (403, "forbidden")),
    ("POST", "/rooms/{stage}/join", None, "other_room", {}, (403, "wrong_room")),
    ("POST", "/rooms/{stage}/join", None, "not_yet", {}, (401, "token_not_yet_valid")),
    ("POST", "/rooms/{stage}/join", {"role": "host"}, "fresh", {}, (422, "unknown_field")),
    ("POST", "/rooms/{stage}/leave", None, "fresh", {}, (404, "participant_not_found")),
    ("POST", "/rooms/{stage}/participants/nobody/kick", None, "admin", {},
     (404, "participant_not_found")),
    ("POST", "/rooms/{stage}/participants/{host_pid}/kick", None, "speaker", {},
     (403, "not_a_host")),
    ("POST", "/rooms/{stage}/participants/{speaker_pid}/mute", {"audio": "yes"}, "host", {},
     (422, "invalid_field")),
    ("POST", "/rooms/{stage}/participants/{speaker_pid}/admit", None, "host", {},
     (409, "participant_joined")),
    ("POST", "/rooms/{stage}/hand", None, "admin", {}, (403, "forbidden")),
    ("DELETE", "/rooms/{stage}/hand", None, "fresh", {}, (403, "forbidden")),
    ("DELETE", "/rooms/{stage}/bans/a%2Fb", None, "admin", {}, (422, "invalid_field")),
    ("DELETE", "/rooms/{stage}/bans/nobody", None, "admin", {}, (409, "not_banned")),
    ("GET", "/rooms/{stage}/events?limit=0", None, "admin", {}, (400, "invalid_parameter")),
    ("GET", "/rooms/{stage}/events?after=x", None, "admin", {}, (400, "invalid_parameter")),
    ("GET", "/rooms/{stage}/events?wait=999", None, "admin", {}, (400, "invalid_parameter")),
    ("GET", "/rooms/{unknown}/events", None, "admin", {}, (404, "room_not_found")),
    ("GET", "/openapi.json", None, "none", {}, (401, "unauthorized")),
]


@pytest.mark.parametrize("method,path,body,token,headers,expected", CASES,
                         ids=[f"{i:02d} {c[0]} {c[1]} {c[3]} -> {c[5][1]}" for i, c in enumerate(CASES)])
def test_refused_with_code_and_nothing_stored_changes(world, method, path, body, token,
                                                      headers, expected):
    api, tokens, ids = world
    before = stored_items(api.env)
    raw = body if isinstance(body, (str, bytes)) else None
    got = api.error(method, path.format(**ids), None if raw else body, tokens[token],
                    headers=headers, raw=raw)
    assert got == expected
    assert stored_items(api.env) == before


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=20), lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
FIELDS = st.sampled_from(["name", "policy", "metadata", "startsAt", "endsAt", "persistent",
                          "identity", "role", "ttlSeconds", "audio", "muted", "reason",
                          "maxParticipants", "waitingRoom", "mediaMode", "autoClose"])
BODIES = st.dictionaries(FIELDS, JSON, max_size=5) | JSON | st.binary(max_size=48)
ROUTES = st.sampled_from([
    ("POST", "/rooms", "admin"), ("PATCH", "/rooms/{stage}/policy", "admin"),
    ("POST", "/rooms/{stage}/tokens", "admin"), ("POST", "/rooms/{stage}/join", "fresh"),
    ("POST", "/rooms/{stage}/participants/{speaker_pid}/mute", "host"),
    ("POST", "/rooms/{other}/close", "other_room"), ("POST", "/rooms/{stage}/leave", "fresh")])


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=ROUTES, body=BODIES)
def test_no_body_yields_a_500(world, route, body):
    api, tokens, ids = world
    method, path, token = route
    raw = body if isinstance(body, bytes) else None
    status, data = api.call(method, path.format(**ids), None if raw is not None else body,
                            tokens[token], raw=raw)
    assert status < 500, data
    if status >= 400:
        assert set(data) == {"error"} and isinstance(data["error"]["code"], str)
