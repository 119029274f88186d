"""Every limit the OpenAPI document states is the one the API enforces.

Walks ``/openapi.json``: for each operation's parameters and request body, and each of
their constraints (maxLength, minLength, minimum, maximum, enum, pattern, required, type,
additionalProperties, minProperties, allowEmptyValue, nullable), it sends the value at
the boundary (accepted: no 400 or 422) and just past it (refused with the documented
status and code: 400 ``invalid_parameter`` for a query parameter, 422 ``invalid_field``
for a path parameter or body field, 422 ``missing_field``, 422 ``unknown_field``, 400
``invalid_json`` for a body that is not an object). The documented example of each body
is sent too.

Through the Chalice handler on the embedded DynamoDB; each accepted request gets a room
of its own (an accepted leave or close changes the room), refusals share one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlencode

import pytest

from chalicelib.api import openapi
from chalicelib.api.node_tokens import mint_node_token
from tests.integration.api_support import Api, api_with_nodes

NODE_SECRET = "node-secret-" + "w" * 24
# statuses of an accepted request whose use case then refused it for the room's state
# (the walk changes one field at a time, so a room may be closed, a participant gone)
STATE_REFUSALS = {403, 404, 409, 503}
NOT_MATCHING = [" ", "\x01", "a b", "a/b", "ftp://x", "x", "-1"]
PATH_VALUES = {"roomId": None, "participantId": None, "identity": "ada", "nodeId": "n1",
               "destinationId": None, "recordingId": None, "webhookId": None}
WORLD_IDS = ("roomId", "participantId", "destinationId", "recordingId", "webhookId")
# the world's bucket and webhook receiver: nothing listens there (a probe fails at once)
NOWHERE = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    caller: str
    path_params: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    body: object = None
    expect: tuple | None = None  # (status, code) of a refusal; None: accepted
    what: str = ""
    name: str = ""  # the parameter or field under test


def sample(schema: dict, n: int) -> str:
    """A string of length ``n`` that matches the schema's pattern (from its example)."""
    example = str(schema.get("example", "a"))
    return example[:n] if n <= len(example) else example + example[-1] * (n - len(example))


def boundaries(schema: dict, where: str):
    """``(value, accepted, what)`` at and just past each constraint of ``schema``, for a
    ``query`` or ``path`` parameter (text) or a ``body`` field (JSON)."""
    kind, in_query = schema.get("type"), where != "body"
    if schema.get("nullable"):
        yield None, True, "nullable"
    as_sent = (lambda v: str(v).lower() if isinstance(v, bool) else str(v)) if in_query \
        else (lambda v: v)
    if kind in ("integer", "number"):
        step = 1 if kind == "integer" else 0.5
        if "minimum" in schema:
            yield as_sent(schema["minimum"]), True, "minimum"
            yield as_sent(schema["minimum"] - step), False, "minimum - step"
        if "maximum" in schema:
            yield as_sent(schema["maximum"]), True, "maximum"
            yield as_sent(schema["maximum"] + step), False, "maximum + step"
        wrong = ["abc", "1.5"] if in_query and kind == "integer" else ["abc"] if in_query \
            else (["1", 1.5, True] if kind == "integer" else ["1", True])
        yield from ((w, False, "type") for w in wrong)
    elif kind == "string":
        if "minLength" in schema:
            yield sample(schema, schema["minLength"]), True, "minLength"
            if schema["minLength"] > 0 and where != "path":  # no empty path segment
                yield sample(schema, schema["minLength"] - 1), False, "minLength - 1"
        if "maxLength" in schema:
            yield sample(schema, schema["maxLength"]), True, "maxLength"
            yield sample(schema, schema["maxLength"] + 1), False, "maxLength + 1"
        if "pattern" in schema:
            yield schema["example"], True, "pattern"
            lo, hi = schema.get("minLength", 0), schema.get("maxLength", 10 ** 9)
            miss = next(v for v in NOT_MATCHING
                        if not re.search(schema["pattern"], v) and lo <= len(v) <= hi)
            yield miss, False, "pattern"
        for value in schema.get("enum", []):
            yield value, True, "enum"
        if "enum" in schema:
            yield "not-" + schema["enum"][0], False, "enum"
        if not in_query:
            yield 5, False, "type"
    elif kind == "boolean" and not in_query:
        yield from ((True, True, "type"), (False, True, "type"), ("yes", False, "type"),
                    (1, False, "type"))
    elif kind == "object" and not in_query:
        # an object with required keys is accepted as its example, not empty
        accepted = schema["example"] if schema.get("required") else {}
        yield from ((accepted, True, "type"), ("x", False, "type"), ([], False, "type"))


def resolved(schema: dict, document: dict) -> dict:
    name = schema.get("$ref", "").rpartition("/")[2]
    return document["components"]["schemas"][name] if name else schema


def cases() -> list[Case]:
    out, document = [], openapi.document()
    for path, ops in document["paths"].items():
        for method, operation in ops.items():
            content = operation.get("requestBody", {}).get("content", {}).get(
                "application/json", {})
            base = Case(method.upper(), path, operation["x-dropon-caller"],
                        body=content.get("example"))
            schema = resolved(content.get("schema", {}), document)
            if "oneOf" in schema:  # each kind of body with its own example
                tag = schema["discriminator"]["propertyName"]
                for kind in schema["oneOf"]:
                    one = replace(base, body=kind["example"])
                    out.append(replace(one, what="the documented example "
                                                 f"({kind['example'][tag]})"))
                    out += body_cases(one, kind, kind["example"])
            else:
                out.append(replace(base, what="the documented example"))
            for param in operation["parameters"]:
                where = param["in"]
                refused = (400, "invalid_parameter") if where == "query" else \
                    (422, "invalid_field")
                if param.get("allowEmptyValue"):
                    out.append(replace(base, query={param["name"]: ""}, name=param["name"],
                                       what=f"query {param['name']}: allowEmptyValue"))
                for value, ok, what in boundaries(param["schema"], where):
                    change = {"query": {param["name"]: value}} if where == "query" else \
                        {"path_params": {param["name"]: value}}
                    out.append(replace(base, **change, expect=None if ok else refused,
                                       name=param["name"],
                                       what=f"{where} {param['name']}: {what} {value!r:.40}"))
            if content and "oneOf" not in schema:
                out += body_cases(base, schema, content.get("example") or {})
    return out


def body_cases(base: Case, schema: dict, example: dict) -> list[Case]:
    out = [replace(base, body=[], expect=(400, "invalid_json"), what="body: type")]
    for name in schema.get("required", []):
        out.append(replace(base, body={k: v for k, v in example.items() if k != name},
                           expect=(422, "missing_field"), what=f"body: required {name}"))
    if schema.get("additionalProperties") is False:
        out.append(replace(base, body={**example, "zzUnknown": 1},
                           expect=(422, "unknown_field"), what="body: additionalProperties"))
    if schema.get("minProperties"):
        out.append(replace(base, body={}, expect=(422, "missing_field"),
                           what="body: minProperties"))
    for name, prop in schema.get("properties", {}).items():
        for value, ok, what in boundaries(prop, "body"):
            out.append(replace(base, body={**example, name: value},
                               expect=None if ok else (422, "invalid_field"), name=name,
                               what=f"body {name}: {what} {value!r:.40}"))
    return out


CASES = cases()


@pytest.fixture(scope="module")
def api(dynamodb_endpoint):
    with api_with_nodes(dynamodb_endpoint, NODE_SECRET) as api:
        yield api


def new_world(api: Api, path: str = "{destinationId}{recordingId}{webhookId}") -> dict:
    """A room on media node n1 with a joined host and speaker, a token of an identity not
    yet joined, and what ``path`` names: a destination, a recording of the room into it,
    a webhook."""
    api.ok("POST", "/nodes/n1/heartbeat", {"url": NOWHERE, "rooms": 0, "participants": 0,
                                           "streams": 0, "cpu": 0, "capacity": 1000},
           token=mint_node_token(NODE_SECRET, "n1"))
    room = api.create_room()["id"]
    api.join(room, "host-1", "host")
    speaker_token, speaker = api.join(room, "speaker-1", "speaker")
    world = {"roomId": room, "participantId": speaker["participantId"],
             "speaker": speaker_token, "fresh": api.token(room, "fresh-1")}
    if "{destinationId}" in path or "/recordings" in path:
        world["destinationId"] = api.ok("POST", "/destinations", {
            "type": "s3", "bucket": "recordings", "region": "eu-west-1", "endpoint": NOWHERE,
            "credentials": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "s" * 40}},
            status=201)["destinationId"]
    if "{recordingId}" in path:
        world["recordingId"] = api.ok("POST", f"/rooms/{room}/recordings", {
            "destinationId": world["destinationId"], "output": "per-track"},
            status=201)["recordingId"]
    if "{webhookId}" in path:
        world["webhookId"] = api.ok("POST", "/webhooks", {"url": NOWHERE + "/hooks"},
                                    status=201)["webhookId"]
    return world


@pytest.fixture(scope="module")
def shared_world(api):
    return new_world(api)


# a destination's example endpoint is a public name: with no network its lookup hangs,
# and verify: true would probe it; a closed port on loopback refuses at once
LOOPBACK_ENDPOINT = "http://127.0.0.1:9"


def with_world_ids(case: Case, world: dict):
    """The case's body, with the world's ids for the ids it names (not the one under test),
    and a destination's endpoint on loopback (unless the endpoint is under test)."""
    if not isinstance(case.body, dict):
        return case.body
    body = {k: world[k] if k in world and k in WORLD_IDS and k != case.name else v
            for k, v in case.body.items()}
    if case.path == "/destinations" and case.name != "endpoint":
        body["endpoint"] = LOOPBACK_ENDPOINT
    return body


def token(case: Case, world: dict, node_id: str) -> str:
    if case.caller == "node":
        return mint_node_token(NODE_SECRET, node_id if re.match(r"^[\w.-]{1,64}$", node_id)
                               else "n1")
    if case.caller == "participant":
        return world["fresh"] if case.path.endswith("/join") else world["speaker"]
    return "admin"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.path} {c.what}" for c in CASES])
def test_documented_constraint_is_enforced(api, shared_world, case):
    world = new_world(api, case.path) if case.expect is None else shared_world
    values = {**PATH_VALUES, **{k: world.get(k) for k in WORLD_IDS}, **case.path_params}
    path = case.path.format(**{k: quote(str(v), safe="") for k, v in values.items()})
    if case.query:
        path += "?" + urlencode(case.query)
    status, data = api.call(case.method, path, with_world_ids(case, world),
                            token(case, world, str(values["nodeId"])))
    if case.expect is None:
        # a rule across fields (persistent: false needs startsAt and endsAt) names another
        across = status == 422 and data["error"]["code"] == "invalid_argument" \
            and data["error"].get("field") not in (None, case.name)
        # verify: true probes the example's bucket, which no server here holds
        refused = status == 422 and data["error"]["code"] == "destination_refused"
        assert status < 400 or status in STATE_REFUSALS or across or refused, (status, data)
    else:
        assert (status, data["error"]["code"]) == case.expect, data
