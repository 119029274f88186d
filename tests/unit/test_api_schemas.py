"""Request parsing: each malformed input gets its own stable code."""
import pytest

from chalicelib.api import schemas
from chalicelib.api.errors import ApiError
from chalicelib.api.fields import json_body
from chalicelib.config import Settings


def code(fn, *args):
    with pytest.raises(ApiError) as caught:
        fn(*args)
    return caught.value.status, caught.value.code


@pytest.mark.parametrize("raw", [b"{", b"[1]", b'"x"', b"\xff\xfe", b"NaN", b'{"a": NaN}',
                                 b"[" * 100000])
def test_not_a_json_object(raw):
    assert code(json_body, raw, 10 ** 6) == (400, "invalid_json")


def test_body_too_large():
    assert code(json_body, b"{}" + b" " * 100, 64) == (413, "body_too_large")


def test_empty_body_is_empty_object():
    assert json_body(b"", 10) == {} and json_body(None, 10) == {}


def test_create_room_fields():
    args = schemas.create_room({"name": "standup", "startsAt": "2030-01-01T10:00:00Z"})
    assert args["name"] == "standup" and args["starts_at"].isoformat() == "2030-01-01T10:00:00+00:00"
    assert args["persistent"] is False and args["policy"] == {} and args["ends_at"] is None


@pytest.mark.parametrize("body,expected", [
    ({}, (422, "missing_field")),
    ({"name": 5}, (422, "invalid_field")),
    ({"name": ""}, (422, "invalid_field")),
    ({"name": "a", "policy": []}, (422, "invalid_field")),
    ({"name": "a", "persistent": "yes"}, (422, "invalid_field")),
    ({"name": "a", "startsAt": "tomorrow"}, (422, "invalid_field")),
    ({"name": "a", "startsAt": "2030-01-01T10:00:00"}, (422, "invalid_field")),
    ({"name": "a", "startsAt": 17}, (422, "invalid_field")),
    ({"name": "a", "colour": "red"}, (422, "unknown_field")),
])
def test_create_room_refusals(body, expected):
    assert code(schemas.create_room, body) == expected


@pytest.mark.parametrize("body,expected", [
    ({"role": "speaker"}, (422, "missing_field")),
    ({"identity": "a b", "role": "speaker"}, (422, "invalid_field")),
    ({"identity": "ada", "role": "king"}, (422, "invalid_field")),
    ({"identity": "ada", "role": "speaker", "ttlSeconds": 0}, (422, "invalid_field")),
    ({"identity": "ada", "role": "speaker", "ttlSeconds": True}, (422, "invalid_field")),
    ({"identity": "ada", "role": "speaker", "ttlSeconds": 10 ** 9}, (422, "invalid_field")),
])
def test_token_grant_refusals(body, expected):
    assert code(schemas.token_grant, body, Settings()) == expected


def test_token_grant_defaults():
    grant = schemas.token_grant({"identity": "ada@example.com", "role": "host"}, Settings())
    assert grant == {"identity": "ada@example.com", "role": "host", "ttl_seconds": 3600,
                     "replace": False}


@pytest.mark.parametrize("query,expected", [
    ({"version": "x"}, (400, "invalid_parameter")),
    ({"version": "0"}, (400, "invalid_parameter")),
    ({"at": "yesterday"}, (400, "invalid_parameter")),
    ({"version": "1", "at": "2030-01-01T00:00:00Z"}, (400, "invalid_parameter")),
    ({"verson": "1"}, (400, "invalid_parameter")),
])
def test_room_version_refusals(query, expected):
    assert code(schemas.room_version, query) == expected


def test_events_query_bounds():
    assert schemas.events_query({}, 20) == {"after": 0, "limit": 100, "wait": 0}
    assert code(schemas.events_query, {"wait": "21"}, 20) == (400, "invalid_parameter")
    assert code(schemas.events_query, {"after": "-1"}, 20) == (400, "invalid_parameter")


def test_mute_needs_a_kind():
    assert schemas.mute({}) == {"audio": True, "video": False, "muted": True}
    assert code(schemas.mute, {"audio": False}) == (422, "invalid_field")


def test_path_identity_is_unquoted_once():
    assert schemas.path_identity("ada%40example.com") == "ada@example.com"
    assert code(schemas.path_identity, "a%2Fb") == (422, "invalid_field")
