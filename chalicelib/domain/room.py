"""The Room aggregate: lifecycle, policy, media node and the shared checks.

Participant commands live in ``roster.py`` (join, leave, waiting room, kick,
bans) and ``stage.py`` (hands, promote, demote, mute). Every command takes the
actor and an explicit time ``at``, runs its ``check_*`` guards, and only then
triggers events (``events.py``). No I/O here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from chalicelib.domain import events as ev
from chalicelib.domain import policy as policies
from chalicelib.domain.actor import MEDIA_ASSIGNER, SCHEDULER, Actor
from chalicelib.domain.errors import (
    InvalidArgument,
    InvalidState,
    NotAllowed,
    ParticipantNotFound,
    RoomClosed,
)
from chalicelib.domain.nodes import NodeRecord, node_for
from chalicelib.domain.recordings import RecordingCommands
from chalicelib.domain.roster import RosterCommands, active_session
from chalicelib.domain.stage import StageCommands

MAX_NAME_LENGTH = 200
MAX_METADATA_BYTES = 4096
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class Room(RosterCommands, StageCommands, RecordingCommands, Aggregate):
    """A live room. State is plain JSON-like data (see ``events.RoomCreated.apply``)."""

    @classmethod
    def create(
        cls,
        actor: Actor,
        *,
        at: datetime,
        name: str,
        policy: dict | None = None,
        metadata: dict | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        persistent: bool = False,
        room_id: UUID | None = None,
    ) -> Room:
        at = aware(at, "now")
        if actor.kind not in ("api_key", "system"):
            raise NotAllowed("only an API key creates rooms")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
            raise InvalidArgument(f"name must be 1 to {MAX_NAME_LENGTH} characters", field="name")
        metadata = check_metadata(metadata)
        starts_at, ends_at = check_schedule(starts_at, ends_at, persistent, at)
        room_policy = policies.initial_policy(policy, persistent=persistent, now=at)
        return cls._create(
            ev.RoomCreated,
            id=room_id,
            timestamp=at,
            actor=actor.as_dict(),
            name=name.strip(),
            policy=room_policy,
            metadata=metadata,
            starts_at=starts_at,
            ends_at=ends_at,
            persistent=persistent,
        )

    # queries

    def joined_count(self) -> int:
        return sum(1 for p in self.participants.values() if p["state"] == "joined")

    def participant(self, participant_id: str) -> dict[str, Any]:
        try:
            return self.participants[participant_id]
        except (KeyError, TypeError):
            raise ParticipantNotFound(participant_id, room_id=self.id) from None

    def active_record(self, identity: str) -> dict[str, Any] | None:
        """The identity's session that is still in the room (joined or waiting)."""
        return active_session(self.participants.values(), identity)

    def acting_record(self, actor: Actor) -> dict[str, Any] | None:
        """The actor's own participant record, if it is a participant of this room."""
        if actor.kind != "participant":
            return None
        if actor.participant_id is not None:
            p = self.participants.get(actor.participant_id)
            return p if p is not None and p["identity"] == actor.id else None
        return self.active_record(actor.id)

    def can_publish(self, participant_id: str, kind: str = "audio") -> bool:
        """Only joined speakers and hosts publish, and only what is not muted."""
        p = self.participants.get(participant_id)
        if p is None or p["state"] != "joined" or p["role"] not in ("host", "speaker"):
            return False
        if kind == "video" and self.policy["audioOnly"]:
            return False
        return not p["muted"].get(kind, False)

    def due_transitions(self, at: datetime) -> tuple[str | None, str | None]:
        """(open reason, close reason) that the schedule or policy call for at ``at``.
        A room whose end is due before it ever opened closes without opening."""
        if self.status == "closed":
            return None, None
        auto = self.policy["autoClose"]
        timeout = auto["emptyTimeoutSeconds"]
        if self.ends_at is not None and at >= self.ends_at:
            return None, "ends_at"
        if auto["closeAt"] is not None and at >= auto["closeAt"]:
            return None, "close_at"
        if (
            self.status == "open"
            and timeout is not None
            and self.empty_since is not None
            and at - self.empty_since >= timedelta(seconds=timeout)
        ):
            return None, "empty_timeout"
        if (
            self.status == "scheduled"
            and not self.policy["hostRequired"]
            and self.starts_at is not None
            and self.starts_at <= at
        ):
            return "scheduled_start", None
        return None, None

    # lifecycle commands

    def tick(self, at: datetime, actor: Actor = SCHEDULER) -> None:
        """Apply what the schedule and the auto-close policy call for by ``at``."""
        at = self._time(at)
        opening, closing = self.due_transitions(at)
        if opening:
            self._trigger(ev.RoomOpened, actor, at, reason=opening)
        if closing:
            self.stop_recordings(actor, "room_closed", at)
            self._trigger(ev.RoomClosed, actor, at, reason=closing)

    def close(self, actor: Actor, reason: str = "host_ended", *, at: datetime) -> None:
        at = self._time(at)
        self.check_not_closed(at)
        self.check_host(actor)
        if not isinstance(reason, str) or not SLUG.match(reason):
            raise InvalidArgument("reason must be a short lowercase slug", field="reason")
        self.stop_recordings(actor, "room_closed", at)
        self._trigger(ev.RoomClosed, actor, at, reason=reason)

    def update_policy(self, actor: Actor, changes: dict, *, at: datetime) -> None:
        at = self._time(at)
        self.check_not_closed(at)
        self.check_host(actor)
        new = policies.apply_changes(self.policy, changes, now=at)
        changed = policies.diff(self.policy, new)
        if "mediaMode" in changed and self.joined_count():
            raise InvalidState(
                "mediaMode cannot change while participants are joined",
                code="media_mode_locked",
                room_id=self.id,
            )
        if changed:
            self._trigger(ev.PolicyChanged, actor, at, changes=changed, policy=new)

    def assign_media_node(self, actor: Actor, node_id: str, url: str, *, at: datetime) -> None:
        at = self._time(at)
        self.check_not_closed(at)
        if actor.kind not in ("system", "api_key"):
            raise NotAllowed("only the control plane assigns media nodes")
        if self.policy["mediaMode"] != "SFU":
            raise InvalidState("only SFU rooms use media nodes", code="not_sfu", room_id=self.id)
        for field, value in (("nodeId", node_id), ("url", url)):
            if not isinstance(value, str) or not value or len(value) > 2048:
                raise InvalidArgument(f"{field} must be a non-empty string", field=field)
        current = self.media_node
        if current is not None and current["node_id"] != node_id:
            # a room moves only off a dead node: what it was recording is lost with it
            self.fail_recordings_of(current["node_id"], actor, at)
        if current is None or (current["node_id"], current["url"]) != (node_id, url):
            self._trigger(ev.MediaNodeAssigned, actor, at, node_id=node_id, url=url)

    def keep_on_healthy_node(self, healthy: Sequence[NodeRecord], *, at: datetime) -> bool:
        """Keep the room on its node while that node is among the ``healthy`` ones, else
        move it to the least-loaded healthy node with a free seat; ``False`` if none."""
        node = node_for(self.media_node and self.media_node["node_id"], healthy)
        if node is None:
            return False
        self.assign_media_node(MEDIA_ASSIGNER, node.node_id, node.url, at=at)
        return True

    # shared checks

    def check_not_closed(self, at: datetime) -> None:
        if self.status == "closed" or self.due_transitions(at)[1] is not None:
            raise RoomClosed(f"room {self.id} is closed", room_id=self.id)

    def check_host(self, actor: Actor) -> None:
        """Hosts are API keys, the control plane, or joined participants whose role is host."""
        if actor.kind in ("api_key", "system"):
            return
        p = self.acting_record(actor)
        if p is None or p["state"] != "joined" or p["role"] != "host":
            raise NotAllowed("only a host may do this", code="not_a_host", room_id=self.id)

    # helpers

    def _time(self, at: datetime) -> datetime:
        # recorded times never go backwards, so `at=` replays are well defined
        at = aware(at, "now")
        return max(at, self.modified_on)

    def _trigger(self, event_class: type, actor: Actor, at: datetime, **fields: Any) -> None:
        self.trigger_event(event_class, timestamp=at, actor=actor.as_dict(), **fields)


def aware(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidArgument(f"{field} must be a timezone-aware datetime", field=field)
    return value


def check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidArgument("metadata must be an object", field="metadata")
    try:
        size = len(json.dumps(metadata, allow_nan=False).encode())
    except (TypeError, ValueError):
        raise InvalidArgument("metadata must be plain JSON", field="metadata") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidArgument(f"metadata is over {MAX_METADATA_BYTES} bytes", field="metadata")
    return json.loads(json.dumps(metadata))


def check_schedule(
    starts_at: Any, ends_at: Any, persistent: Any, at: datetime
) -> tuple[datetime | None, datetime | None]:
    if not isinstance(persistent, bool):
        raise InvalidArgument("persistent must be true or false", field="persistent")
    if persistent:
        if starts_at is not None or ends_at is not None:
            raise InvalidArgument(
                "a persistent room has no startsAt or endsAt", field="persistent"
            )
        return None, None
    if starts_at is None or ends_at is None:
        raise InvalidArgument(
            "a room needs startsAt and endsAt, or persistent: true", field="startsAt"
        )
    starts_at = policies.parse_time(starts_at, "startsAt", error=InvalidArgument)
    ends_at = policies.parse_time(ends_at, "endsAt", error=InvalidArgument)
    if ends_at <= starts_at:
        raise InvalidArgument("endsAt must be after startsAt", field="endsAt")
    if ends_at <= at:
        raise InvalidArgument("endsAt must be in the future", field="endsAt")
    return starts_at, ends_at
