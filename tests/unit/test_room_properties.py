"""Property tests of the Room aggregate, stored through the in-memory event store.

For random command sequences (refused commands simply drop out, which leaves a
random *valid* sequence): the room rebuilt from its stored events equals the
live room; the room at version N equals the live room right after the command
that reached N; a refused command changes nothing; and the invariants hold.
"""

import copy
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.application import RoomsApplication
from chalicelib.domain import Actor, Room
from chalicelib.domain.errors import DomainError

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = Actor("api_key", "key-1")
IDENTITIES = ["h0", "h1", "u0", "u1", "u2", "u3"]
POLICY_CHANGES = [
    {"stageMode": True}, {"stageMode": False}, {"waitingRoom": True}, {"waitingRoom": False},
    {"maxParticipants": 2}, {"maxParticipants": 4}, {"hostRequired": True},
    {"hostsCanKickHosts": True}, {"audioOnly": True}, {"autoClose": {"emptyTimeoutSeconds": 90}},
]
COMMANDS = [
    "join", "join", "join", "leave", "admit", "deny", "kick", "promote", "demote",
    "lower_hand", "raise_hand", "lower_own_hand", "mute", "lift_ban", "policy", "tick",
    "assign", "close",
]

step = st.tuples(
    st.sampled_from(COMMANDS),
    st.integers(0, len(IDENTITIES) - 1),  # who acts / who joins
    st.integers(0, 50),  # which participant record
    st.integers(0, len(POLICY_CHANGES) - 1),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0, 1, 2, 5, 10, 30, 60, 400]),  # seconds that pass before the step
)


def actor_for(room: Room, i: int) -> Actor:
    """Mostly someone with host rights, sometimes anyone (who gets refused)."""
    if i == 0:
        return KEY
    hosts = [p["identity"] for p in room.participants.values()
             if p["role"] == "host" and p["state"] == "joined"]
    if i <= 3:
        return Actor("participant", hosts[i % len(hosts)]) if hosts else KEY
    return Actor("participant", IDENTITIES[i])


def run(room: Room, command: str, i: int, j: int, k: int, a: bool, b: bool, now: datetime) -> None:
    active = [pid for pid, p in room.participants.items() if p["state"] in ("joined", "waiting")]
    pids = (active if active and j % 4 else list(room.participants)) or ["none"]
    pid = pids[j % len(pids)]
    actor = actor_for(room, i)
    identity = IDENTITIES[i]
    if command == "join":
        role = "host" if identity.startswith("h") else ("audience" if b else "speaker")
        room.join(Actor("participant", identity), participant_id=f"p{room.version}",
                  call_id=f"c{room.version}", identity=identity, role=role, replace=a, at=now)
    elif command == "leave":
        room.leave(Actor("participant", room.participants.get(pid, {}).get("identity", identity)),
                   pid, at=now)
    elif command in ("admit", "deny", "kick", "promote", "demote", "lower_hand"):
        getattr(room, command)(actor, pid, at=now)
    elif command in ("raise_hand", "lower_own_hand"):
        getattr(room, command)(Actor("participant", identity), at=now)
    elif command == "mute":
        room.mute(actor, pid, audio=a or not b, video=b, muted=a, at=now)
    elif command == "lift_ban":
        room.lift_ban(actor, identity, at=now)
    elif command == "policy":
        room.update_policy(actor, POLICY_CHANGES[k], at=now)
    elif command == "tick":
        room.tick(now)
    elif command == "assign":
        room.assign_media_node(Actor("system", "control"), f"node-{k % 2}", "http://127.0.0.1:8100", at=now)
    elif command == "close" and j % 10 == 0:  # rarely, or nothing else happens
        room.close(actor, at=now)


def check_invariants(room: Room, command: str) -> None:
    active = [p["identity"] for p in room.participants.values() if p["state"] in ("joined", "waiting")]
    assert len(active) == len(set(active)), "one session per identity"
    assert not set(active) & set(room.bans), "banned identities are out"
    if command in ("join", "admit"):
        assert room.joined_count() <= room.policy["maxParticipants"]
    if room.status == "closed":
        assert not active
    if not room.policy["stageMode"]:
        assert all(p["role"] != "audience" for p in room.participants.values())


@pytest.mark.parametrize("snapshot_interval", ["0", "4"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.fixed_dictionaries({"stageMode": st.booleans(), "waitingRoom": st.booleans()}),
       steps=st.lists(step, min_size=5, max_size=50))
def test_replay_equals_live_room_at_every_version(snapshot_interval, initial, steps):
    app = RoomsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo",
                                "DROPON_SNAPSHOT_INTERVAL": snapshot_interval})
    now = T0
    room = Room.create(KEY, at=now, name="prop", starts_at=T0 + timedelta(minutes=5),
                       ends_at=T0 + timedelta(hours=2), policy={"maxParticipants": 3, **initial})
    app.save(room)
    history = {room.version: copy.deepcopy(room)}
    # a host and two others first, so that most random commands have someone to act on
    prelude = [("join", 0, 0, 0, False, False, 1), ("join", 2, 0, 0, False, True, 1),
               ("join", 3, 0, 0, False, False, 1)]
    for command, i, j, k, a, b, dt in prelude + steps:
        now += timedelta(seconds=dt)
        before = copy.deepcopy(room)
        try:
            run(room, command, i, j, k, a, b, now)
        except DomainError:
            assert room == before and not room.pending_events, f"{command} changed a refused room"
            continue
        app.save(room)
        check_invariants(room, command)
        history[room.version] = copy.deepcopy(room)

    assert app.repository.get(room.id) == room
    for version, state in history.items():
        assert app.repository.get(room.id, version=version) == state
    app.close()
