"""Who is in the room: join, the waiting room, leave, kick and bans.

A mixin of :class:`chalicelib.domain.room.Room`; it uses the room's shared
checks (``check_not_closed``, ``check_host``) and ``_time``/``_trigger``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.domain import events as ev
from chalicelib.domain.actor import Actor
from chalicelib.domain.errors import (
    AlreadyJoined,
    HostRequired,
    IdentityBanned,
    InvalidArgument,
    InvalidState,
    NotAllowed,
    RoomFull,
)

ROLES = ("host", "speaker", "audience")
MAX_IDENTITY_LENGTH = 256
MAX_WAITING = 256


def active_session(records: Iterable[dict[str, Any]], identity: str) -> dict[str, Any] | None:
    """The identity's session that is still in the room (joined or waiting); an identity
    has at most one. ``records`` are the room's participants, or their views (both have
    ``identity`` and ``state``)."""
    return next((p for p in records if p["identity"] == identity and p["state"] in ev.ACTIVE),
                None)


class RosterCommands:
    def effective_role(self, role: str) -> str:
        """Without stage mode, everyone but hosts is a speaker."""
        return "speaker" if role == "audience" and not self.policy["stageMode"] else role

    def check_may_enter(self, identity: str, at: datetime) -> None:
        """What a token for ``identity`` needs: the room not closed, the identity not banned."""
        check_identity(identity)
        self.check_not_closed(at)
        if identity in self.bans:
            raise IdentityBanned(
                "this identity is banned from the room", room_id=self.id, identity=identity
            )

    def join(
        self,
        actor: Actor,
        *,
        participant_id: str,
        call_id: str,
        identity: str,
        role: str,
        replace: bool = False,
        at: datetime,
    ) -> None:
        """Join, or knock when the waiting room applies. ``replace`` ends the
        identity's earlier session instead of refusing with ``already_joined``."""
        at = self._time(at)
        check_identity(identity)
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidArgument("role must be host, speaker or audience", field="role")
        if actor.kind == "participant" and actor.id != identity:
            raise NotAllowed("a participant joins only as itself", room_id=self.id)
        if actor.kind == "node":
            raise NotAllowed("media nodes do not join rooms", room_id=self.id)
        if participant_id in self.participants:
            raise InvalidState("participant id in use", code="duplicate_participant_id")
        self.check_may_enter(identity, at)
        role = self.effective_role(role)
        existing = self.active_record(identity)
        if existing is not None and not replace:
            raise AlreadyJoined(
                "this identity is already in the room",
                room_id=self.id,
                participant_id=existing["participant_id"],
            )
        if self.policy["hostRequired"] and self.status != "open" and role != "host":
            raise HostRequired("the room opens when a host joins", room_id=self.id)
        # a reconnecting session that was already admitted does not wait again
        was_joined = existing is not None and existing["state"] == "joined"
        waits = self.policy["waitingRoom"] and role != "host" and not was_joined
        if waits:
            self.check_waiting_capacity()
        else:
            self.check_capacity(freed=1 if was_joined else 0)
        if existing is not None:
            self._trigger(
                ev.ParticipantLeft, actor, at,
                participant_id=existing["participant_id"], reason="replaced",
            )
        if not waits:
            self._open_on_first_join(actor, at)
        self._trigger(
            ev.ParticipantKnocked if waits else ev.ParticipantJoined, actor, at,
            participant_id=participant_id, identity=identity, role=role, call_id=call_id,
        )

    def admit(self, actor: Actor, participant_id: str, *, at: datetime) -> None:
        at = self._time(at)
        self._host_target(actor, participant_id, at, "waiting")
        self.check_capacity()
        self._open_on_first_join(actor, at)
        self._trigger(ev.ParticipantAdmitted, actor, at, participant_id=participant_id)

    def deny(self, actor: Actor, participant_id: str, *, at: datetime) -> None:
        at = self._time(at)
        self._host_target(actor, participant_id, at, "waiting")
        self._trigger(ev.ParticipantDenied, actor, at, participant_id=participant_id)

    def leave(self, actor: Actor, participant_id: str, reason: str = "left", *, at: datetime) -> None:
        """End a session: by the participant itself, its media node, or the control plane."""
        at = self._time(at)
        p = self.participant(participant_id)
        if actor.kind == "participant" and (
            p["identity"] != actor.id or actor.participant_id not in (None, participant_id)
        ):
            raise NotAllowed("a participant leaves only its own session", room_id=self.id)
        if not isinstance(reason, str) or not 0 < len(reason) <= 64:
            raise InvalidArgument("reason must be a short string", field="reason")
        self._check_active(p, ev.ACTIVE)
        self._trigger(ev.ParticipantLeft, actor, at, participant_id=participant_id, reason=reason)

    def kick(self, actor: Actor, participant_id: str, *, at: datetime) -> None:
        """End the session and ban its identity until a host lifts the ban."""
        at = self._time(at)
        self.check_not_closed(at)
        self.check_host(actor)
        p = self.participant(participant_id)
        self._check_active(p, ev.ACTIVE)
        own = self.acting_record(actor)
        if own is not None and own["participant_id"] == participant_id:
            raise InvalidState("a host leaves rather than kicks itself", code="cannot_kick_self")
        if p["role"] == "host" and actor.kind == "participant" and not self.policy["hostsCanKickHosts"]:
            raise NotAllowed(
                "a host cannot kick another host under this policy",
                code="cannot_kick_host", room_id=self.id, participant_id=participant_id,
            )
        self._trigger(ev.ParticipantKicked, actor, at, participant_id=participant_id, identity=p["identity"])

    def lift_ban(self, actor: Actor, identity: str, *, at: datetime) -> None:
        at = self._time(at)
        self.check_not_closed(at)
        self.check_host(actor)
        check_identity(identity)
        if identity not in self.bans:
            raise InvalidState("this identity is not banned", code="not_banned", identity=identity)
        self._trigger(ev.BanLifted, actor, at, identity=identity)

    def check_capacity(self, freed: int = 0) -> None:
        """Capacity counts joined participants, hosts too."""
        if self.joined_count() - freed >= self.policy["maxParticipants"]:
            raise RoomFull("the room is full", room_id=self.id)

    def check_waiting_capacity(self) -> None:
        waiting = sum(1 for p in self.participants.values() if p["state"] == "waiting")
        if waiting >= MAX_WAITING:
            raise RoomFull("the waiting room is full", code="waiting_room_full", room_id=self.id)

    def _host_target(self, actor: Actor, participant_id: str, at: datetime,
                     state: str = "joined") -> dict[str, Any]:
        """The record a host acts on: the room open, the actor a host, the target in ``state``."""
        self.check_not_closed(at)
        self.check_host(actor)
        p = self.participant(participant_id)
        self._check_active(p, (state,))
        return p

    def _check_active(self, p: dict, states: tuple[str, ...]) -> None:
        if p["state"] not in states:
            raise InvalidState(
                f"participant is {p['state']}, not {' or '.join(states)}",
                code=f"participant_{p['state']}",
                participant_id=p["participant_id"],
            )

    def _open_on_first_join(self, actor: Actor, at: datetime) -> None:
        if self.status == "scheduled":
            reason = "host_joined" if self.policy["hostRequired"] else "first_join"
            self._trigger(ev.RoomOpened, actor, at, reason=reason)


def check_identity(identity: object) -> None:
    if not isinstance(identity, str) or not 0 < len(identity) <= MAX_IDENTITY_LENGTH:
        raise InvalidArgument(
            f"identity must be a string of 1 to {MAX_IDENTITY_LENGTH} characters", field="identity"
        )
