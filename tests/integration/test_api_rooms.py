"""The HTTP API's user story on the embedded DynamoDB: a host runs a stage, the audience takes part.

Everything goes through the Chalice handler (``chalice.test.Client``) onto the DynamoDB
event store on the embedded DynamoDB.
"""
from __future__ import annotations

import pytest

from tests.integration.api_support import Api, soon, store_env


@pytest.fixture(scope="module")
def api(dynamodb_endpoint):
    api = Api(store_env(dynamodb_endpoint))
    yield api
    api.close()


def test_create_get_and_list_rooms(api):
    room = api.create_room(name="standup", metadata={"team": "core"}, persistent=True,
                           policy={"maxParticipants": 10})
    assert room["name"] == "standup" and room["metadata"] == {"team": "core"}
    assert room["policy"]["maxParticipants"] == 10 and room["persistent"] is True
    assert api.ok("GET", f"/rooms/{room['id']}")["id"] == room["id"]
    listed, cursor = [], None
    while True:
        page = api.ok("GET", "/rooms?limit=1" + (f"&cursor={cursor}" if cursor else ""))
        listed += [r["id"] for r in page["rooms"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert room["id"] in listed and len(listed) == len(set(listed))


def test_stage_story(api):
    room = api.create_room(name="town hall", policy={"stageMode": True})
    rid = room["id"]
    host_token, host = api.join(rid, "host-1", "host")
    aud_token, aud = api.join(rid, "aud-1", "audience")
    assert host["status"] == "joined" and aud["role"] == "audience"
    assert {"participantId", "callId", "status", "role"} <= set(aud)

    api.ok("POST", f"/rooms/{rid}/hand", token=aud_token)
    state = api.ok("GET", f"/rooms/{rid}", token=aud_token)
    assert [p["handRaised"] for p in state["participants"] if p["identity"] == "aud-1"] == [True]

    # the audience cannot promote itself; the host can
    assert api.error("POST", f"/rooms/{rid}/participants/{aud['participantId']}/promote",
                     token=aud_token)[0] == 403
    api.ok("POST", f"/rooms/{rid}/participants/{aud['participantId']}/promote", token=host_token)
    api.ok("POST", f"/rooms/{rid}/participants/{aud['participantId']}/mute",
           {"audio": True, "muted": True}, token=host_token)
    state = api.ok("GET", f"/rooms/{rid}")
    me = next(p for p in state["participants"] if p["identity"] == "aud-1")
    assert me["role"] == "speaker" and me["muted"]["audio"] is True

    types = [e["type"] for e in api.events(rid)]
    assert types[0] == "RoomCreated" and "HandRaised" in types
    seqs = [e["seq"] for e in api.events(rid)]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert api.events(rid, after=seqs[-2]) == api.events(rid)[-1:]


def test_kick_bans_until_the_ban_is_lifted(api):
    rid = api.create_room(name="ban")["id"]
    _, member = api.join(rid, "mallory")
    api.ok("POST", f"/rooms/{rid}/participants/{member['participantId']}/kick")
    assert api.error("POST", f"/rooms/{rid}/tokens",
                     {"identity": "mallory", "role": "speaker"}) == (403, "banned")
    api.ok("DELETE", f"/rooms/{rid}/bans/mallory")
    api.token(rid, "mallory")


def test_waiting_room_admit_and_deny(api):
    rid = api.create_room(name="waiting", policy={"waitingRoom": True})["id"]
    host_token, _ = api.join(rid, "host-2", "host")
    t1, guest = api.join(rid, "guest-1")
    _, other = api.join(rid, "guest-2")
    assert guest["status"] == "waiting"
    api.ok("POST", f"/rooms/{rid}/participants/{guest['participantId']}/admit", token=host_token)
    api.ok("POST", f"/rooms/{rid}/participants/{other['participantId']}/deny", token=host_token)
    states = {p["identity"]: p["state"] for p in api.ok("GET", f"/rooms/{rid}")["participants"]}
    assert states["guest-1"] == "joined" and states["guest-2"] != "joined"
    api.ok("POST", f"/rooms/{rid}/leave", token=t1)
    states = {p["identity"]: p["state"] for p in api.ok("GET", f"/rooms/{rid}")["participants"]}
    assert states["guest-1"] != "joined"


def test_policy_change_and_close_by_host(api):
    rid = api.create_room(name="policy")["id"]
    host_token, _ = api.join(rid, "host-3", "host")
    speaker_token, _ = api.join(rid, "sp-3")
    api.ok("PATCH", f"/rooms/{rid}/policy", {"waitingRoom": True}, token=host_token)
    assert api.error("PATCH", f"/rooms/{rid}/policy", {"waitingRoom": False},
                     token=speaker_token)[0] == 403
    assert api.ok("GET", f"/rooms/{rid}")["policy"]["waitingRoom"] is True
    api.ok("POST", f"/rooms/{rid}/close", {"reason": "done"}, token=host_token)
    assert api.ok("GET", f"/rooms/{rid}")["status"] == "closed"
    assert api.error("POST", f"/rooms/{rid}/join", token=speaker_token)[1] == "room_closed"


def test_past_versions_by_number_and_time(api):
    rid = api.create_room(name="history")["id"]
    created = api.ok("GET", f"/rooms/{rid}")
    api.ok("PATCH", f"/rooms/{rid}/policy", {"stageMode": True})
    now = api.ok("GET", f"/rooms/{rid}")
    assert now["version"] == created["version"] + 1 and now["policy"]["stageMode"] is True
    then = api.ok("GET", f"/rooms/{rid}?version={created['version']}")
    assert then["policy"]["stageMode"] is False and then["version"] == created["version"]
    at = api.ok("GET", f"/rooms/{rid}?at={created['updatedAt'].replace('+', '%2B')}")
    assert at["version"] == created["version"]


def test_scheduled_tick_closes_a_room_at_its_end(api):
    rid = api.create_room(name="scheduled", startsAt=soon(1), endsAt=soon(120))["id"]
    api.clock.offset = __import__("datetime").timedelta(seconds=600)
    try:
        result = api.client.lambda_.invoke("tick", api.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    finally:
        api.clock.offset = __import__("datetime").timedelta()
    assert result.payload["changed"] >= 1
    assert api.ok("GET", f"/rooms/{rid}")["status"] == "closed"


def test_openapi_document_is_served(api):
    doc = api.ok("GET", "/openapi.json")
    assert doc["openapi"].startswith("3.") and "/rooms/{roomId}/join" in doc["paths"]
