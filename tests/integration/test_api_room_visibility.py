"""What each reader of a room may see, through the handler on the embedded DynamoDB.

One town hall with a waiting room and a stage: the host admits a speaker, an audience
member and others; one knock is denied, one still waits, two members are kicked (one
ban lifted), one leaves with a reason. Then every kind of reader reads the room and its
events: an API key, the host, the speaker, the audience member, the waiting guest, the
denied guest, the kicked member and the room's media node.
"""
from __future__ import annotations

import json

import pytest

from chalicelib import bootstrap
from chalicelib.api.node_tokens import mint_node_token
from tests.integration.api_support import Api, store_env

NODE_SECRET = "node-secret-" + "v" * 24
MEMBER_KEYS = {"id", "name", "status", "policy", "metadata", "startsAt", "endsAt", "persistent",
               "participants", "counts", "mediaNode", "version", "createdAt", "updatedAt",
               "openedAt", "closedAt", "closedReason"}
HIDDEN_FROM_MEMBERS = ("den-denied", "wai-waiting", "gone_fishing")


@pytest.fixture(scope="module")
def hall(dynamodb_endpoint):
    api = Api(store_env(dynamodb_endpoint), node_secret=NODE_SECRET)
    bootstrap.configure(node_registry=bootstrap.build_node_registry(api.env))
    node_token = mint_node_token(NODE_SECRET, "node-v")
    api.ok("POST", "/nodes/node-v/heartbeat", {
        "url": "http://127.0.0.1:9/node-v", "rooms": 0, "participants": 0, "streams": 0,
        "cpu": 0.1, "capacity": 64}, token=node_token)
    rid = api.create_room(name="town hall", metadata={"topic": "q3"},
                          policy={"stageMode": True, "waitingRoom": True})["id"]
    tokens, pids = {}, {}
    for identity, role in [("ada-host", "host"), ("sam-speaker", "speaker"),
                           ("aud-audience", "audience"), ("mal-kicked", "speaker"),
                           ("kim-kicked", "speaker"), ("lee-left", "speaker"),
                           ("den-denied", "speaker")]:
        tokens[identity], joined = api.join(rid, identity, role)
        pids[identity] = joined["participantId"]
    host = tokens["ada-host"]

    def control(command, identity, body=None):
        api.ok("POST", f"/rooms/{rid}/participants/{pids[identity]}/{command}", body,
               token=host)

    for identity in ("sam-speaker", "aud-audience", "mal-kicked", "kim-kicked", "lee-left"):
        control("admit", identity)
    control("deny", "den-denied")
    control("kick", "mal-kicked")
    control("kick", "kim-kicked")
    api.ok("DELETE", f"/rooms/{rid}/bans/mal-kicked", token=host)
    left = api.ok("POST", f"/rooms/{rid}/leave", {"reason": "gone_fishing"},
                  token=tokens["lee-left"])
    tokens["wai-waiting"], waiting = api.join(rid, "wai-waiting")
    pids["wai-waiting"] = waiting["participantId"]
    api.ok("POST", f"/rooms/{rid}/hand", token=tokens["aud-audience"])
    control("mute", "sam-speaker", {"audio": True})
    api.ok("PATCH", f"/rooms/{rid}/policy", {"hostsCanKickHosts": True}, token=host)
    yield {"api": api, "rid": rid, "tokens": tokens, "pids": pids, "node": node_token,
           "left": left}
    api.close()


def read(hall, who, query=""):
    token = hall["node"] if who == "node" else hall["tokens"].get(who, who)
    return hall["api"].ok("GET", f"/rooms/{hall['rid']}{query}", token=token)


def feed(hall, who, query="?after=0&limit=1000"):
    return read(hall, who, "/events" + query)


def identities(view):
    return {p["identity"] for p in view["participants"]}


def test_an_api_key_sees_everything(hall):
    view = read(hall, "admin")
    assert [b["identity"] for b in view["bans"]] == ["kim-kicked"]
    states = {p["identity"]: (p["state"], p["reason"]) for p in view["participants"]}
    assert states["wai-waiting"] == ("waiting", None)
    assert states["den-denied"] == ("denied", "denied")
    assert states["lee-left"] == ("left", "gone_fishing")
    types = {e["type"] for e in feed(hall, "admin")["events"]}
    assert {"ParticipantKnocked", "ParticipantDenied", "ParticipantKicked", "BanLifted",
            "MediaNodeAssigned"} <= types
    assert read(hall, "admin", "?version=1")["version"] == 1


def test_the_host_sees_what_an_api_key_sees_including_the_past(hall):
    assert read(hall, "ada-host") == read(hall, "admin")
    assert feed(hall, "ada-host") == feed(hall, "admin")
    first = read(hall, "admin", "?version=1")
    assert read(hall, "ada-host", "?version=1") == first
    at = first["updatedAt"].replace("+", "%2B")
    assert read(hall, "ada-host", f"?at={at}")["version"] == 1


def test_the_room_node_reads_the_whole_feed(hall):
    assert feed(hall, "node") == feed(hall, "admin")
    tail = feed(hall, "node", "?after=0&limit=3")
    assert len(tail["events"]) == 3 and tail["nextAfter"] == 3


@pytest.mark.parametrize("who", ["sam-speaker", "aud-audience"])
def test_a_member_sees_the_joined_participants_public_fields_only(hall, who):
    view = read(hall, who)
    assert set(view) == MEMBER_KEYS  # no bans, no waiting list
    assert identities(view) == {"ada-host", "sam-speaker", "aud-audience"}
    for p in view["participants"]:
        assert set(p) == {"id", "identity", "role", "handRaised", "muted"}
    by_identity = {p["identity"]: p for p in view["participants"]}
    assert by_identity["aud-audience"]["handRaised"] is True
    assert by_identity["sam-speaker"]["muted"] == {"audio": True, "video": False}
    assert view["counts"] == {"joined": 3, "waiting": 1}
    assert view["metadata"] == {"topic": "q3"} and view["mediaNode"]["nodeId"] == "node-v"
    assert view["policy"]["hostsCanKickHosts"] is True
    text = json.dumps(view)
    assert not any(hidden in text for hidden in HIDDEN_FROM_MEMBERS + ("mal-", "kim-"))


@pytest.mark.parametrize("who", ["aud-audience", "wai-waiting", "den-denied"])
@pytest.mark.parametrize("query", ["?version=1", "?at=2030-01-01T00:00:00Z"])
def test_only_hosts_and_api_keys_read_past_versions(hall, who, query):
    assert hall["api"].error("GET", f"/rooms/{hall['rid']}{query}",
                             token=hall["tokens"][who]) == (403, "not_a_host")


def test_a_member_feed_is_the_live_call(hall):
    pids, events = hall["pids"], feed(hall, "aud-audience")["events"]
    text = json.dumps(events)
    assert not any(hidden in text for hidden in HIDDEN_FROM_MEMBERS)
    types = [e["type"] for e in events]
    assert not {"ParticipantDenied", "ParticipantKicked", "BanLifted"} & set(types)
    # the only knock shown is the reader's own
    assert [e["data"]["identity"] for e in events if e["type"] == "ParticipantKnocked"] == [
        "aud-audience"]
    assert {"RoomCreated", "RoomOpened", "MediaNodeAssigned", "PolicyChanged", "HandRaised",
            "ParticipantMuted", "ParticipantJoined", "ParticipantAdmitted"} <= set(types)
    joined = [e["data"] for e in events if e["type"] == "ParticipantJoined"]
    assert joined == [{"participantId": pids["ada-host"], "identity": "ada-host",
                       "role": "host"}]  # no callId of others
    admitted = {e["data"]["participantId"]: e["data"] for e in events
                if e["type"] == "ParticipantAdmitted"}
    assert admitted[pids["sam-speaker"]] == {"participantId": pids["sam-speaker"],
                                             "identity": "sam-speaker", "role": "speaker"}
    assert set(admitted) == {pids[i] for i in ("sam-speaker", "aud-audience", "mal-kicked",
                                               "kim-kicked", "lee-left")}
    # kicks and leaves of members: the session ended, neither why nor the ban
    left = [e["data"] for e in events if e["type"] == "ParticipantLeft"]
    assert left == [{"participantId": pids[i]} for i in ("mal-kicked", "kim-kicked", "lee-left")]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))


def test_hidden_events_still_move_the_cursor(hall):
    admin = feed(hall, "admin")["events"]
    knock = next(e["seq"] for e in admin if e["type"] == "ParticipantKnocked"
                 and e["data"]["identity"] == "wai-waiting")
    page = feed(hall, "aud-audience", f"?after={knock - 1}&limit=1")
    assert page == {"events": [], "nextAfter": knock}
    # a long poll reads past hidden events to the next one the reader may see
    hand = next(e for e in admin if e["type"] == "HandRaised")
    held = feed(hall, "aud-audience", f"?after={knock - 1}&limit=1&wait=2")
    assert held == {"events": [hand], "nextAfter": hand["seq"]}
    last = admin[-1]["seq"]
    assert feed(hall, "sam-speaker")["nextAfter"] == last
    assert feed(hall, "sam-speaker", f"?after={last}&wait=1") == {"events": [],
                                                                   "nextAfter": last}


def test_a_waiting_guest_sees_only_itself(hall):
    view = read(hall, "wai-waiting")
    assert set(view) == {"id", "name", "status", "participant"}
    assert view["participant"]["id"] == hall["pids"]["wai-waiting"]
    assert view["participant"]["state"] == "waiting"
    events = feed(hall, "wai-waiting")["events"]
    text = json.dumps([view, events])
    others = ("ada-host", "sam-", "aud-", "mal-", "kim-", "lee-", "den-", "q3", "node-v")
    assert not any(other in text for other in others), text
    assert [e["type"] for e in events] == ["RoomOpened", "ParticipantKnocked"]
    assert events[0]["actor"] == {"kind": "participant", "id": None}  # the host, unnamed


def test_departed_guests_see_their_own_end(hall):
    denied = read(hall, "den-denied")
    assert denied["participant"]["state"] == "denied" and "participants" not in denied
    assert [e["type"] for e in feed(hall, "den-denied")["events"]] == [
        "RoomOpened", "ParticipantKnocked", "ParticipantDenied"]
    kicked = [e for e in feed(hall, "kim-kicked")["events"] if e["type"] == "ParticipantKicked"]
    assert [e["data"] for e in kicked] == [{"participantId": hall["pids"]["kim-kicked"],
                                            "identity": "kim-kicked"}]
    assert read(hall, "kim-kicked")["participant"]["state"] == "kicked"


def test_a_participant_command_answers_with_what_the_caller_may_read(hall):
    api, rid, token = hall["api"], hall["rid"], hall["tokens"]["sam-speaker"]
    raised = api.ok("POST", f"/rooms/{rid}/hand", token=token)
    assert set(raised) == MEMBER_KEYS and identities(raised) == {
        "ada-host", "sam-speaker", "aud-audience"}
    assert "bans" not in api.ok("DELETE", f"/rooms/{rid}/hand", token=token)
    api.ok("POST", f"/rooms/{rid}/hand", token=token)
    lowered = api.ok("POST", f"/rooms/{rid}/participants/{hall['pids']['sam-speaker']}"
                     "/lower-hand", token=hall["tokens"]["ada-host"])
    assert [b["identity"] for b in lowered["bans"]] == ["kim-kicked"]  # a host's answer
    left = hall["left"]  # lee's leave answered with lee's own record only
    assert set(left) == {"id", "name", "status", "participant"}
    assert (left["participant"]["state"], left["participant"]["reason"]) == (
        "left", "gone_fishing")
