"""The OpenAPI document's response schemas describe the bodies the API really returns.

Two stories through the Chalice handler on the embedded DynamoDB (a room, its host, a
speaker, a knock-free newcomer, a kick, a media node, a close; a recorded room, its
destinations, recordings and node reports, a webhook); each answer is checked
against the schema its operation documents (OpenAPI 3.0 rules: ``nullable``).
"""
from __future__ import annotations

import pytest
from openapi_schema_validator import OAS30Validator

from chalicelib.api import openapi
from chalicelib.api.node_tokens import mint_node_token
from tests.integration.api_support import Api, api_with_nodes

NODE_SECRET = "node-secret-" + "r" * 24
HEARTBEAT = {"url": "http://127.0.0.1:9", "rooms": 0, "participants": 0, "streams": 0,
             "cpu": 0.1, "capacity": 10}


@pytest.fixture(scope="module")
def api(dynamodb_endpoint):
    with api_with_nodes(dynamodb_endpoint, NODE_SECRET) as api:
        yield api


def documented(method: str, path: str, status: int, data) -> None:
    """``data`` matches the schema ``openapi.json`` gives the operation's ``status``."""
    doc = openapi.document()
    operation = doc["paths"][path][method.lower()]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    errors = [e.message[:200] for e in OAS30Validator(
        {**schema, "components": doc["components"]}).iter_errors(data)]
    assert errors == [], (method, path, status)


def call(api: Api, method: str, template: str, token="admin", body=None, **ids):
    status, data = api.call(method, template.format(**ids), body, token)
    documented(method, template, status, data)
    return data


def test_every_answer_of_a_room_story_matches_its_schema(api):
    room = call(api, "POST", "/rooms", body={"name": "story", "persistent": True})
    rid = room["id"]
    host, _ = api.join(rid, "host-1", "host")
    speaker = api.token(rid, "sp-1")
    joined = call(api, "POST", "/rooms/{roomId}/join", speaker, roomId=rid)
    assert joined["media"] is None and joined["mediaError"]["code"] == "no_media_node"
    minted = call(api, "POST", "/rooms/{roomId}/tokens",
                  body={"identity": "new-1", "role": "audience"}, roomId=rid)
    assert minted["expiresAt"].endswith("Z"), minted
    newcomer = minted["token"]
    for token in ("admin", host, speaker, newcomer):  # Room, MemberRoom, SelfRoom
        call(api, "GET", "/rooms/{roomId}", token, roomId=rid)
        call(api, "GET", "/rooms/{roomId}/events", token, roomId=rid)
    call(api, "POST", "/rooms/{roomId}/hand", speaker, roomId=rid)
    call(api, "DELETE", "/rooms/{roomId}/hand", speaker, roomId=rid)
    call(api, "POST", "/rooms/{roomId}/participants/{participantId}/mute", body={},
         roomId=rid, participantId=joined["participantId"])
    call(api, "POST", "/rooms/{roomId}/participants/{participantId}/kick", host,
         roomId=rid, participantId=joined["participantId"])
    call(api, "GET", "/rooms/{roomId}", speaker, roomId=rid)  # its own record, kicked
    call(api, "DELETE", "/rooms/{roomId}/bans/{identity}", roomId=rid, identity="sp-1")
    call(api, "GET", "/rooms", body=None)
    call(api, "GET", "/rooms/{roomId}", roomId="no-such-room")  # the Error schema

    node = mint_node_token(NODE_SECRET, "n1")
    call(api, "POST", "/nodes/{nodeId}/heartbeat", node, HEARTBEAT, nodeId="n1")
    call(api, "GET", "/nodes")
    again = api.token(rid, "sp-2")
    joined = call(api, "POST", "/rooms/{roomId}/join", again, roomId=rid)
    assert joined["media"]["nodeId"] == "n1"
    grant = call(api, "POST", "/rooms/{roomId}/media", again, roomId=rid)
    # every time in a response is UTC with Z (docs/api.md), the ones the edge writes too
    assert grant["media"]["expiresAt"].endswith("Z") and joined["media"]["expiresAt"][-1] == "Z"
    call(api, "POST", "/rooms/{roomId}/participants/{participantId}/disconnected", node,
         {"reason": "silent"}, roomId=rid, participantId=joined["participantId"])
    call(api, "POST", "/rooms/{roomId}/leave", host, roomId=rid)
    call(api, "POST", "/rooms/{roomId}/close", roomId=rid)
    call(api, "GET", "/openapi.json")


FILE = openapi.document()["components"]["schemas"]["ManifestFile"]["example"]


def test_every_answer_of_a_recorded_room_and_its_webhook_matches_its_schema(api):
    call(api, "POST", "/nodes/{nodeId}/heartbeat", mint_node_token(NODE_SECRET, "n2"),
         HEARTBEAT, nodeId="n2")
    rid = call(api, "POST", "/rooms", body={"name": "recorded", "persistent": True})["id"]
    host, _ = api.join(rid, "host-1", "host")
    node = mint_node_token(NODE_SECRET, api.ok("GET", f"/rooms/{rid}")["mediaNode"]["nodeId"])
    did = call(api, "POST", "/destinations", body={
        "type": "s3", "bucket": "recordings", "region": "eu-west-1",
        "endpoint": "http://127.0.0.1:9", "forcePathStyle": True,
        "credentials": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "s" * 40},
    })["destinationId"]
    call(api, "POST", "/destinations", body={"type": "azure", "account": "acme",
                                             "container": "recordings"})
    call(api, "GET", "/destinations")
    call(api, "GET", "/destinations/{destinationId}", destinationId=did)
    verified = call(api, "POST", "/destinations/{destinationId}/verify", destinationId=did)
    assert verified["ok"] is False  # nothing listens at the endpoint

    ids = {"roomId": rid}
    one = "/rooms/{roomId}/recordings/{recordingId}"
    for output, end in (("per-track", {"event": "completed", "files": [FILE]}),
                        ("composite", {"event": "failed", "reason": "upload_failed",
                                       "error": "AccessDenied", "files": []})):
        started = call(api, "POST", "/rooms/{roomId}/recordings", host,
                       {"destinationId": did, "output": output}, **ids)
        ids["recordingId"] = started["recordingId"]
        call(api, "GET", one + "/destination", node, **ids)
        call(api, "POST", one + "/report", node, {"event": "recording"}, **ids)
        call(api, "POST", one + "/report", node, {"event": "uploaded", "file": FILE}, **ids)
        call(api, "POST", one + "/stop", host, **ids)
        call(api, "POST", one + "/report", node, {"event": "uploading"}, **ids)
        call(api, "POST", one + "/report", node, end, **ids)
        call(api, "GET", one, host, **ids)
    assert call(api, "POST", one + "/retry-upload", **ids)["status"] == "uploading"
    call(api, "GET", "/rooms/{roomId}/recordings", host, **ids)
    call(api, "GET", one, **{**ids, "recordingId": "no-such-recording"})  # the Error schema
    call(api, "DELETE", "/destinations/{destinationId}", destinationId=did)

    hook = call(api, "POST", "/webhooks", body={"url": "http://127.0.0.1:9/hooks",
                                                "events": ["RoomCreated"], "roomId": rid})
    wid = hook["webhookId"]
    call(api, "GET", "/webhooks")
    call(api, "GET", "/webhooks/{webhookId}", webhookId=wid)
    call(api, "POST", "/webhooks/{webhookId}/rotate-secret", body={"keepPreviousFor": 60},
         webhookId=wid)
    call(api, "GET", "/webhooks/{webhookId}/deliveries", webhookId=wid)
    assert call(api, "DELETE", "/webhooks/{webhookId}", webhookId=wid)["status"] == "deleted"
