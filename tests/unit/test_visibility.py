"""The reader scopes' rules on plain views and events (no store): the cases the API
story does not reach, such as sessions pruned from the room's state."""
from chalicelib.application.visibility import FULL, MEMBER, SELF, EventFilter, reader_scope
from chalicelib.domain import Actor

HOST = {"kind": "participant", "id": "ada"}


def record(pid, identity, role="speaker", state="joined"):
    return {"id": pid, "identity": identity, "role": role, "state": state,
            "joinedAt": "2026-01-01T00:00:00Z" if state == "joined" else None}


def event(seq, kind, actor=HOST, **data):
    return {"seq": seq, "type": kind, "time": "2026-01-01T00:00:00Z", "actor": actor,
            "data": data}


VIEW = {"participants": [record("p-ada", "ada", "host"), record("p-sam", "sam"),
                         record("p-old", "old", state="left")]}


def test_the_scope_comes_from_the_room_record_not_the_token():
    assert reader_scope(None, Actor("node", "node-1")) == FULL
    assert reader_scope(None, Actor("api_key", "key")) == FULL
    assert reader_scope(VIEW, Actor("participant", "ada")) == FULL
    assert reader_scope(VIEW, Actor("participant", "sam")) == MEMBER
    assert reader_scope(VIEW, Actor("participant", "old")) == SELF
    assert reader_scope(VIEW, Actor("participant", "stranger")) == SELF


def test_a_member_learns_who_was_admitted_and_never_hears_of_other_knocks():
    member = EventFilter(Actor("participant", "sam"), VIEW)
    shown = member.visible([
        event(1, "ParticipantKnocked", actor={"kind": "participant", "id": "bo"},
              participantId="p-bo", identity="bo", role="audience", callId="c"),
        event(2, "ParticipantKnocked", actor={"kind": "participant", "id": "cy"},
              participantId="p-cy", identity="cy", role="audience", callId="c"),
        event(3, "PolicyChanged", changes={"stageMode": False}, policy={"stageMode": False}),
        event(4, "ParticipantAdmitted", participantId="p-bo"),
        event(5, "ParticipantLeft", actor={"kind": "participant", "id": "cy"},
              participantId="p-cy", reason="left"),
        event(6, "ParticipantLeft", participantId="p-bo", reason="ice_failed"),
    ])
    assert [(e["seq"], e["type"], e["data"]) for e in shown] == [
        (3, "PolicyChanged", {"changes": {"stageMode": False}, "policy": {"stageMode": False}}),
        # stage mode went off before the admission: bo is a speaker now
        (4, "ParticipantAdmitted", {"participantId": "p-bo", "identity": "bo",
                                    "role": "speaker"}),
        (6, "ParticipantLeft", {"participantId": "p-bo"}),
    ]


def test_sessions_the_room_no_longer_keeps_and_unknown_types_stay_hidden():
    member = EventFilter(Actor("participant", "sam"), VIEW)
    pruned = [event(1, "ParticipantAdmitted", participantId="p-gone"),
              event(2, "ParticipantKicked", participantId="p-gone", identity="gone"),
              event(3, "SomethingAddedLater", secret="x")]
    assert member.visible(pruned) == []
    assert EventFilter(Actor("api_key", "key")).visible(pruned) == pruned


def test_a_self_reader_sees_its_own_events_whole_and_no_other_name():
    own = EventFilter(Actor("participant", "old"), VIEW)
    shown = own.visible([
        event(1, "RoomOpened", reason="first_join"),
        event(2, "ParticipantJoined", actor={"kind": "participant", "id": "sam"},
              participantId="p-x", identity="x", role="speaker", callId="c"),
        event(3, "ParticipantKicked", participantId="p-old", identity="old"),
        event(4, "BanLifted", actor={"kind": "api_key", "id": "key"}, identity="old"),
    ])
    assert [(e["seq"], e["actor"]) for e in shown] == [
        (1, {"kind": "participant", "id": None}), (3, {"kind": "participant", "id": None}),
        (4, {"kind": "api_key", "id": "key"})]
    assert shown[1]["data"] == {"participantId": "p-old", "identity": "old"}
