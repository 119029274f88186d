"""The Room aggregate's participants: capacity, sessions, waiting room, kick and bans."""

import copy
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain import Actor, Room
from chalicelib.domain import errors

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = Actor("api_key", "key-1")
HOST = Actor("participant", "hugo")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def room(**policy) -> Room:
    r = Room.create(KEY, at=T0, name="Room", persistent=True, policy=policy)
    r.collect_events()
    return r


def join(r, identity, role="speaker", *, replace=False, actor=None):
    pid = f"p{len(r.participants)}-{identity}"
    r.join(actor or Actor("participant", identity), participant_id=pid, call_id="c-" + pid,
           identity=identity, role=role, replace=replace, at=at(10))
    return pid


def names(r) -> list[str]:
    return [type(e).__name__ for e in r.collect_events()]


def unchanged(r, command, error):
    """A refused command raises before any event: no pending events, same state."""
    r.collect_events()
    before = copy.deepcopy(vars(r))
    with pytest.raises(error) as info:
        command()
    assert not r.pending_events and vars(r) == before
    return info.value


def test_capacity_counts_joined_participants_hosts_too():
    r = room(maxParticipants=2)
    join(r, "hugo", "host")
    join(r, "ann")
    err = unchanged(r, lambda: join(r, "bob"), errors.RoomFull)
    assert err.code == "room_full" and err.status == 409


def test_a_second_session_of_an_identity_is_refused_unless_it_replaces_the_first():
    r = room(maxParticipants=1)
    first = join(r, "ann")
    err = unchanged(r, lambda: join(r, "ann"), errors.AlreadyJoined)
    assert err.ids["participant_id"] == first
    r.collect_events()
    second = join(r, "ann", replace=True)  # a full room still takes the replacement
    assert names(r) == ["ParticipantLeft", "ParticipantJoined"]
    assert r.participants[first]["reason"] == "replaced"
    assert r.participants[second]["state"] == "joined"


def test_a_participant_joins_only_as_itself():
    r = room()
    unchanged(r, lambda: join(r, "ann", actor=Actor("participant", "eve")), errors.NotAllowed)
    # the control plane may join on someone's behalf: the session is the identity's,
    # the event records who did it
    pid = join(r, "ann", actor=KEY)
    assert (r.participants[pid]["identity"], r.participants[pid]["state"]) == ("ann", "joined")
    joined = [e for e in r.collect_events() if type(e).__name__ == "ParticipantJoined"]
    assert [(e.identity, e.actor) for e in joined] == [("ann", KEY.as_dict())]


def test_bad_roles_and_identities_are_refused():
    r = room()
    unchanged(r, lambda: join(r, "ann", "admin"), errors.InvalidArgument)
    unchanged(r, lambda: join(r, ""), errors.InvalidArgument)
    unchanged(r, lambda: join(r, "ann", ["host"]), errors.InvalidArgument)
    unchanged(r, lambda: r.check_may_enter(["ann"], at(1)), errors.InvalidArgument)
    unchanged(r, lambda: r.lift_ban(KEY, {"x": 1}, at=at(1)), errors.InvalidArgument)
    unchanged(r, lambda: r.kick(KEY, ["p0"], at=at(1)), errors.ParticipantNotFound)


def test_the_waiting_room_holds_joiners_until_a_host_admits_or_denies():
    r = room(waitingRoom=True, maxParticipants=2)
    join(r, "hugo", "host")  # hosts skip the waiting room
    ann, bob = join(r, "ann"), join(r, "bob")
    assert [r.participants[p]["state"] for p in (ann, bob)] == ["waiting", "waiting"]
    assert r.joined_count() == 1
    unchanged(r, lambda: r.admit(Actor("participant", "ann"), bob, at=at(11)), errors.NotAllowed)
    r.admit(HOST, ann, at=at(11))
    unchanged(r, lambda: r.admit(HOST, bob, at=at(12)), errors.RoomFull)
    r.deny(HOST, bob, at=at(12))
    assert (r.participants[ann]["state"], r.participants[bob]["state"]) == ("joined", "denied")
    err = unchanged(r, lambda: r.admit(HOST, bob, at=at(13)), errors.InvalidState)
    assert err.code == "participant_denied"


def test_a_waiting_participant_may_leave():
    r = room(waitingRoom=True)
    pid = join(r, "ann")
    r.leave(Actor("participant", "ann"), pid, at=at(11))
    assert r.participants[pid]["state"] == "left"
    err = unchanged(r, lambda: r.leave(Actor("participant", "ann"), pid, at=at(12)), errors.InvalidState)
    assert err.code == "participant_left"


def test_kick_ends_the_session_and_bans_the_identity_until_lifted():
    r = room()
    join(r, "hugo", "host")
    ann = join(r, "ann")
    r.collect_events()
    r.kick(HOST, ann, at=at(11))
    assert names(r) == ["ParticipantKicked"]
    assert r.participants[ann]["state"] == "kicked" and "ann" in r.bans
    assert r.bans["ann"]["by"] == {"kind": "participant", "id": "hugo"}
    unchanged(r, lambda: join(r, "ann"), errors.IdentityBanned)
    unchanged(r, lambda: r.check_may_enter("ann", at(12)), errors.IdentityBanned)
    unchanged(r, lambda: r.lift_ban(Actor("participant", "zed"), "ann", at=at(12)), errors.NotAllowed)
    r.lift_ban(HOST, "ann", at=at(12))
    assert r.bans == {}
    join(r, "ann")
    unchanged(r, lambda: r.lift_ban(HOST, "ann", at=at(13)), errors.InvalidState)


def test_only_hosts_kick_and_a_host_is_kicked_by_another_host_only_if_policy_allows():
    r = room()
    hugo, hana = join(r, "hugo", "host"), join(r, "hana", "host")
    ann = join(r, "ann")
    unchanged(r, lambda: r.kick(Actor("participant", "ann"), hugo, at=at(11)), errors.NotAllowed)
    err = unchanged(r, lambda: r.kick(HOST, hana, at=at(11)), errors.NotAllowed)
    assert err.code == "cannot_kick_host"
    unchanged(r, lambda: r.kick(HOST, hugo, at=at(11)), errors.InvalidState)
    r.kick(KEY, hana, at=at(11))  # an API key outranks hosts
    r.update_policy(KEY, {"hostsCanKickHosts": True}, at=at(12))
    hana2 = join(r, "hana2", "host")
    r.kick(HOST, hana2, at=at(14))
    assert r.participants[hana2]["state"] == "kicked"


def test_a_token_role_claim_is_not_host_rights():
    r = room()
    join(r, "hugo", "host")
    ann = join(r, "ann")
    # ann's actor says nothing about roles; her record is a speaker, so she is no host
    unchanged(r, lambda: r.kick(Actor("participant", "ann", ann), "p0-hugo", at=at(11)), errors.NotAllowed)
    # a participant id that is not the actor's own gives no rights either
    unchanged(r, lambda: r.kick(Actor("participant", "ann", "p0-hugo"), ann, at=at(11)), errors.NotAllowed)


def test_a_left_host_has_no_host_rights():
    r = room()
    hugo, ann = join(r, "hugo", "host"), join(r, "ann")
    r.leave(HOST, hugo, at=at(11))
    unchanged(r, lambda: r.kick(HOST, ann, at=at(12)), errors.NotAllowed)


def test_unknown_participants_are_not_found():
    r = room()
    join(r, "hugo", "host")
    err = unchanged(r, lambda: r.kick(HOST, "nobody", at=at(11)), errors.ParticipantNotFound)
    assert err.status == 404 and err.as_dict()["participantId"] == "nobody"


def test_departed_records_are_pruned_to_a_bounded_number():
    r = room()
    for i in range(130):
        pid = join(r, f"u{i}")
        r.leave(Actor("participant", f"u{i}"), pid, at=at(10))
    assert len(r.participants) == 100
    assert "p0-u0" not in r.participants
