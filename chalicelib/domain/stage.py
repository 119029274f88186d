"""Stage and host controls: hands, promote, demote, mute.

A mixin of :class:`chalicelib.domain.room.Room`. Commands that would change
nothing (raise a raised hand, mute a muted track) trigger no event, so clients
may retry them safely.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain import events as ev
from chalicelib.domain.actor import Actor
from chalicelib.domain.errors import InvalidArgument, InvalidState, NotAllowed


class StageCommands:
    def raise_hand(self, actor: Actor, *, at: datetime) -> None:
        at = self._time(at)
        p = self._own_joined(actor, at)
        if not p["hand_raised"]:
            self._trigger(ev.HandRaised, actor, at, participant_id=p["participant_id"])

    def lower_own_hand(self, actor: Actor, *, at: datetime) -> None:
        at = self._time(at)
        p = self._own_joined(actor, at)
        if p["hand_raised"]:
            self._trigger(ev.HandLowered, actor, at, participant_id=p["participant_id"])

    def lower_hand(self, actor: Actor, participant_id: str, *, at: datetime) -> None:
        """A host lowers anyone's hand."""
        at = self._time(at)
        p = self._host_target(actor, participant_id, at)
        if p["hand_raised"]:
            self._trigger(ev.HandLowered, actor, at, participant_id=participant_id)

    def promote(self, actor: Actor, participant_id: str, *, at: datetime) -> None:
        """Audience to speaker (clears the hand); needs stage mode."""
        at = self._time(at)
        p = self._host_target(actor, participant_id, at)
        self._check_stage_role(p, "audience")
        self._trigger(ev.ParticipantPromoted, actor, at, participant_id=participant_id)

    def demote(self, actor: Actor, participant_id: str, *, at: datetime) -> None:
        """Speaker to audience; needs stage mode. Hosts are not demoted."""
        at = self._time(at)
        p = self._host_target(actor, participant_id, at)
        self._check_stage_role(p, "speaker")
        self._trigger(ev.ParticipantDemoted, actor, at, participant_id=participant_id)

    def mute(
        self,
        actor: Actor,
        participant_id: str,
        *,
        audio: bool = True,
        video: bool = True,
        muted: bool = True,
        at: datetime,
    ) -> None:
        """Set (``muted``) or lift the server-side mute of the chosen kinds."""
        at = self._time(at)
        if not all(isinstance(v, bool) for v in (audio, video, muted)):
            raise InvalidArgument("audio, video and muted are true or false", field="mute")
        kinds = [k for k, chosen in (("audio", audio), ("video", video)) if chosen]
        if not kinds:
            raise InvalidArgument("choose audio, video or both", field="mute")
        p = self._host_target(actor, participant_id, at)
        changed = [k for k in kinds if p["muted"][k] != muted]
        if changed:
            event = ev.ParticipantMuted if muted else ev.ParticipantUnmuted
            self._trigger(
                event, actor, at, participant_id=participant_id,
                audio="audio" in changed, video="video" in changed,
            )

    def _own_joined(self, actor: Actor, at: datetime) -> dict[str, Any]:
        self.check_not_closed(at)
        p = self.acting_record(actor)
        if p is None:
            raise NotAllowed("only a participant of the room may do this", room_id=self.id)
        self._check_active(p, ("joined",))
        return p

    def _check_stage_role(self, p: dict, role: str) -> None:
        if not self.policy["stageMode"]:
            raise InvalidState("stage mode is off", code="stage_mode_off", room_id=self.id)
        if p["role"] != role:
            raise InvalidState(
                f"participant is {p['role']}, not {role}",
                code=f"not_{role}",
                participant_id=p["participant_id"],
            )
