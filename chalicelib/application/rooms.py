"""Use cases on rooms: load, check, save with the version read, retry on conflict."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from chalicelib.application.errors import NoMediaNode
from chalicelib.application.group_commit import GroupCommit, Overflow, Submission, Tainted, apply_batch
from chalicelib.application.index import CREATED_TOPIC, LiveRoomIndex
from chalicelib.application.views import event_view, join_view, room_view
from chalicelib.application.visibility import FULL, EventFilter, reader_scope, scoped_view
from chalicelib.domain import SCHEDULER, Actor, Room
from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    InvalidArgument,
    InvalidState,
    NotAllowed,
    ParticipantNotFound,
    RoomNotFound,
    VersionNotFound,
)
from chalicelib.domain.nodes import NodeRecord
from chalicelib.domain.policy import parse_time
from chalicelib.telemetry import metrics

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL = "DROPON_SNAPSHOT_INTERVAL"
GROUP_COMMIT = "DROPON_GROUP_COMMIT"
ROOM_CACHE = "DROPON_ROOM_CACHE"
DEFAULT_ROOM_CACHE = 1000


class RoomsApplication(Application):
    """Rooms as event-sourced aggregates. Configured from the environment the
    eventsourcing way (``PERSISTENCE_MODULE``...), and:

    - ``DROPON_SNAPSHOT_INTERVAL``: snapshot every N events (0 or unset: off);
    - ``DROPON_ROOM_CACHE``: rooms kept loaded in this process (default 1000, 0: off).
      A cached room is brought up to date by reading only the events after its version
      (eventsourcing's fast-forwarding aggregate cache), so a reload after a conflict
      costs one short query, not a replay;
    - ``DROPON_GROUP_COMMIT``: ``y`` (default) shares one save among the commands that
      queue for a room meanwhile (``group_commit``); ``n`` saves each on its own."""

    # 64 writers racing for one room each win one round in turn; exponential,
    # fully jittered backoff spreads them out. Attempts, not seconds, bound it.
    max_attempts = 60
    backoff_base_seconds = 0.002
    backoff_cap_seconds = 0.1

    def __init__(self, env: dict[str, str] | None = None):
        super().__init__(env)
        interval = _snapshot_interval(self.env)
        self.snapshotting_intervals = {Room: interval} if interval else {}
        self.live_rooms = LiveRoomIndex(self.recorder, decode=self.mapper.to_domain_event)
        on = _setting(self.env, GROUP_COMMIT, "y").strip().lower()
        if on not in ("y", "n"):
            raise InvalidArgument(f"{GROUP_COMMIT} must be y or n")
        self.group_commit = GroupCommit() if on == "y" else None
        self._cache_locks = [threading.Lock() for _ in range(64)]

    def construct_env(self, name: str, env: dict[str, str] | None = None):
        environment = super().construct_env(name, env)
        if _snapshot_interval(environment):
            environment["IS_SNAPSHOTTING_ENABLED"] = "y"
        rooms = _non_negative(environment, ROOM_CACHE, DEFAULT_ROOM_CACHE)
        # eventsourcing's cache: unset is off, and 0 would mean unbounded
        environment.pop(self.AGGREGATE_CACHE_MAXSIZE, None)
        if rooms:
            environment[self.AGGREGATE_CACHE_MAXSIZE] = str(rooms)
            environment[self.AGGREGATE_CACHE_FASTFORWARD] = "y"
        return environment

    # reads

    def get_room(
        self, room_id: Any, *, version: int | None = None, at: datetime | str | None = None
    ) -> dict[str, Any]:
        """The room now, at aggregate ``version``, or as it was at time ``at``."""
        room_id = _room_id(room_id)
        if version is not None and at is not None:
            raise InvalidArgument("give version or at, not both", field="version")
        if at is not None:
            version = self._version_at(room_id, parse_time(at, "at", error=InvalidArgument))
        elif version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            raise InvalidArgument("version must be a positive integer", field="version")
        room = self._load(room_id, version)
        if version is not None and room.version != version:
            raise VersionNotFound(room_id, f"room {room_id} has no version {version}")
        return room_view(room)

    def read_room(self, reader: Actor, room_id: Any, *, version: int | None = None,
                  at: datetime | str | None = None) -> dict[str, Any]:
        """``get_room`` as ``reader`` may see it now (``visibility``). Past versions are
        the audit trail: API keys and joined hosts only (``not_a_host``)."""
        current = room_view(self._load(_room_id(room_id)))
        if version is None and at is None:
            return scoped_view(current, reader)
        if reader_scope(current, reader) != FULL:
            raise NotAllowed("only hosts and API keys read past versions of a room",
                             code="not_a_host", room_id=current["id"])
        return self.get_room(room_id, version=version, at=at)

    def event_filter(self, reader: Actor, room_id: Any) -> EventFilter:
        """What ``reader`` may see of ``room_events``; only a participant needs the room."""
        room = self._load(_room_id(room_id)) if reader.kind == "participant" else None
        return EventFilter(reader, None if room is None else room_view(room))

    def list_rooms(self, *, limit: int = 50, cursor: str | None = None) -> tuple[list[dict], str | None]:
        """Rooms in creation order, ``limit`` (1-100) at a time. The cursor is the
        notification id of the last room returned; ``None`` when the page was short."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise InvalidArgument("limit must be between 1 and 100", field="limit")
        if cursor is not None and (not isinstance(cursor, str) or not cursor.isdigit()):
            raise InvalidArgument("cursor is not one this API returned", field="cursor")
        start = int(cursor) + 1 if cursor else 1
        page = self.recorder.select_notifications(start=start, limit=limit, topics=[CREATED_TOPIC])
        rooms = [room_view(self._load(_room_id(n.originator_id))) for n in page]
        return rooms, (str(page[-1].id) if len(page) == limit else None)

    def room_events(self, room_id: Any, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Events after ``seq`` ``after`` (seq = aggregate version), oldest first."""
        room_id = _room_id(room_id)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise InvalidArgument("after must be a non-negative integer", field="after")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidArgument("limit must be between 1 and 1000", field="limit")
        events = list(self.events.get(room_id, gt=after, limit=limit))
        if not events and not self.recorder.select_events(room_id, limit=1):
            raise RoomNotFound(room_id)
        return [event_view(e) for e in events]

    def check_token_allowed(self, room_id: Any, identity: str, now: datetime | None = None) -> None:
        """Raise RoomNotFound, RoomClosed or IdentityBanned if no token may be minted."""
        self._load(_room_id(room_id)).check_may_enter(identity, _now(now))

    # commands

    def create_room(
        self,
        actor: Actor,
        *,
        name: str,
        policy: dict | None = None,
        metadata: dict | None = None,
        starts_at: datetime | str | None = None,
        ends_at: datetime | str | None = None,
        persistent: bool = False,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        room = Room.create(
            actor, at=_now(now), name=name, policy=policy, metadata=metadata,
            starts_at=starts_at, ends_at=ends_at, persistent=persistent,
        )
        self.save(room)
        return room_view(room)

    def update_policy(self, actor: Actor, room_id: Any, changes: dict, now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.update_policy(actor, changes, at=at))

    def close_room(self, actor: Actor, room_id: Any, reason: str = "host_ended", now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.close(actor, reason, at=at))

    def join(
        self, actor: Actor, room_id: Any, *, identity: str, role: str,
        replace: bool = False, now: datetime | None = None,
        media_nodes: Sequence[NodeRecord] | None = None,
    ) -> dict[str, Any]:
        """Join (or knock). Returns roomId, participantId, callId, status, role,
        mediaMode, audioOnly, canPublish, mediaNode, version. Given the ``media_nodes``
        that are healthy, a joined participant's SFU room is kept on (or moved to) a
        healthy node in the same save (``Room.keep_on_healthy_node``)."""
        participant_id, call_id = str(uuid4()), str(uuid4())

        def join(room: Room, at: datetime) -> None:
            room.join(
                actor, participant_id=participant_id, call_id=call_id,
                identity=identity, role=role, replace=replace, at=at,
            )
            if (media_nodes is not None and room.policy["mediaMode"] == "SFU"
                    and room.participants[participant_id]["state"] == "joined"):
                room.keep_on_healthy_node(media_nodes, at=at)

        room, _ = self._update(room_id, now, join)
        return join_view(room, participant_id)

    def place_media(self, room_id: Any, identity: str, media_nodes: Sequence[NodeRecord],
                    now: datetime | None = None) -> dict[str, Any]:
        """Keep the room of ``identity``'s joined session on one of the healthy
        ``media_nodes`` (moving it if its node is not among them); that session's
        ``join`` view. ``not_joined``, ``not_sfu`` (409), ``no_media_node`` (503)."""
        def place(room: Room, at: datetime) -> None:
            own = room.active_record(identity)
            if own is None or own["state"] != "joined":
                raise InvalidState("no joined session for this token", code="not_joined")
            if room.policy["mediaMode"] != "SFU":
                raise InvalidState("the room's media mode is not SFU", code="not_sfu")
            if not room.keep_on_healthy_node(media_nodes, at=at):
                raise NoMediaNode()

        room, _ = self._update(room_id, now, place)
        return join_view(room, room.active_record(identity)["participant_id"])

    def leave(self, actor: Actor, room_id: Any, participant_id: str, reason: str = "left", now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.leave(actor, participant_id, reason, at=at))

    def leave_own_session(self, actor: Actor, room_id: Any, reason: str = "left",
                          now: datetime | None = None) -> dict:
        """The participant ``actor`` ends its active session (a participant token names
        no session); the room as it may then see it."""
        def leave(room: Room, at: datetime) -> None:
            own = room.active_record(actor.id)
            if own is None:
                raise ParticipantNotFound(None, "no active session for this token")
            room.leave(actor, own["participant_id"], reason, at=at)

        return scoped_view(self._command(room_id, now, leave), actor)

    def admit(self, actor: Actor, room_id: Any, participant_id: str, now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.admit(actor, participant_id, at=at))

    def deny(self, actor: Actor, room_id: Any, participant_id: str, now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.deny(actor, participant_id, at=at))

    def promote(self, actor: Actor, room_id: Any, participant_id: str, now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.promote(actor, participant_id, at=at))

    def demote(self, actor: Actor, room_id: Any, participant_id: str, now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.demote(actor, participant_id, at=at))

    def kick(self, actor: Actor, room_id: Any, participant_id: str, now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.kick(actor, participant_id, at=at))

    def lower_hand(self, actor: Actor, room_id: Any, participant_id: str, now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.lower_hand(actor, participant_id, at=at))

    def mute(
        self, actor: Actor, room_id: Any, participant_id: str, *, audio: bool = True,
        video: bool = True, muted: bool = True, now: datetime | None = None,
    ) -> dict[str, Any]:
        return self._command(
            room_id, now,
            lambda r, at: r.mute(actor, participant_id, audio=audio, video=video, muted=muted, at=at),
        )

    def raise_hand(self, actor: Actor, room_id: Any, now: datetime | None = None) -> dict:
        """The room as the actor may see it."""
        return scoped_view(self._command(room_id, now, lambda r, at: r.raise_hand(actor, at=at)), actor)

    def lower_own_hand(self, actor: Actor, room_id: Any, now: datetime | None = None) -> dict:
        """The room as the actor may see it."""
        return scoped_view(self._command(room_id, now, lambda r, at: r.lower_own_hand(actor, at=at)), actor)

    def lift_ban(self, actor: Actor, room_id: Any, identity: str, now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.lift_ban(actor, identity, at=at))

    def assign_media_node(self, actor: Actor, room_id: Any, node_id: str, url: str, now: datetime | None = None) -> dict:
        return self._command(room_id, now, lambda r, at: r.assign_media_node(actor, node_id, url, at=at))

    def tick(self, now: datetime | None = None, *,
             live_nodes: set[str] | None = None) -> list[dict[str, Any]]:
        """Open and close rooms as schedules and auto-close policies call for; given the
        ``live_nodes`` (heard from lately), fail the recordings of rooms whose node is not
        among them (``node_lost``). Returns one entry per change (or per failed room)."""
        now = _now(now)
        changes: list[dict[str, Any]] = []

        def command(room: Room, at: datetime) -> None:
            if live_nodes is not None:
                room.fail_recordings_of_lost_node(live_nodes, at, SCHEDULER)

        for room_id in self.live_rooms.room_ids():
            try:
                _, saved = self._update(room_id, now, command)
            except Exception as error:  # one bad room must not stop the others
                log.exception("tick failed for room %s", room_id)
                code = getattr(error, "code", "internal_error")
                changes.append({"roomId": str(room_id), "error": code})
                continue
            for event in saved:
                changes.append({
                    "roomId": str(room_id), "type": type(event).__name__,
                    "reason": getattr(event, "reason", None), "seq": event.originator_version,
                })
        return changes

    def update_room(self, room_id: Any, command: Callable[[Room, datetime], None],
                    now: datetime | None = None) -> Room:
        """Run ``command(room, at)`` as every command here runs (load, check, save with the
        version read, retry); the room after it. For use cases beside this class."""
        return self._update(room_id, now, command)[0]

    def room(self, room_id: Any) -> Room:
        """The room's aggregate now, for use cases beside this class to read."""
        return self._load(_room_id(room_id))

    # machinery

    def _command(self, room_id: Any, now: datetime | None, command: Callable[[Room, datetime], None]) -> dict:
        room, _ = self._update(room_id, now, command)
        return room_view(room)

    def _update(
        self, room_id: Any, now: datetime | None, command: Callable[[Room, datetime], None]
    ) -> tuple[Room, list[Any]]:
        """Load, apply due scheduled transitions, run ``command``, save with the
        version read; on a conflict reload and run it again. Scheduled transitions
        are saved even when the command then fails (e.g. a join after ``endsAt``).
        With group commit, commands that queue for the room meanwhile share the save."""
        room_id, now = _room_id(room_id), _now(now)
        if self.group_commit is None:
            submission = Submission(command, now)
            self._execute(room_id, [submission])
            return submission.outcome()
        return self.group_commit.run(room_id, command, now,
                                     lambda batch: self._execute(room_id, batch))

    def _execute(self, room_id: UUID, batch: list[Submission]) -> None:
        """Load the room, run the batch on it and save it in one transaction; on a
        conflict with another writer, back off, reload and run the batch again.
        Finishes every submission it saved or failed; an overflow leaves the rest."""
        attempt = 0
        try:
            while batch:
                room = self._load(room_id)
                try:
                    settle = apply_batch(room, batch)
                except Tainted as tainted:
                    tainted.submission.finish(error=tainted.error)
                    batch = [s for s in batch if not s.done]
                    continue
                except Overflow as overflow:
                    batch = batch[:overflow.index]
                    continue
                if room.pending_events:
                    try:
                        self.save(room)
                    except IntegrityError:
                        attempt += 1
                        metrics.emit(metrics.CONFLICTS)
                        if attempt >= self.max_attempts:
                            metrics.emit(metrics.CONFLICTS_EXHAUSTED)
                            raise Conflict(f"room {room_id} is too busy; try again",
                                           room_id=room_id) from None
                        delay = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2**attempt)
                        time.sleep(random.uniform(0, delay))
                        metrics.emit(metrics.RETRIES)
                        continue
                settle()
                return
        except Exception as error:  # noqa: BLE001 - each caller gets the failure as its own
            for submission in batch:
                if not submission.done:
                    submission.finish(error=error)

    def _load(self, room_id: UUID, version: int | None = None) -> Room:
        try:
            if version is None and self.repository.cache is not None:
                # eventsourcing fast-forwards a cached room under its own lock but copies it
                # after releasing that lock, so a copy could meet another thread's
                # fast-forward ("dictionary changed size during iteration")
                with self._cache_locks[hash(room_id) % len(self._cache_locks)]:
                    room = self.repository.get(room_id)
            else:
                room = self.repository.get(room_id, version=version)
        except AggregateNotFoundError:
            raise RoomNotFound(room_id) from None
        if not isinstance(room, Room):
            raise RoomNotFound(room_id)
        return room

    def _version_at(self, room_id: UUID, at: datetime) -> int:
        version = None
        for event in self.events.get(room_id):
            if event.timestamp > at:  # recorded times never go backwards
                break
            version = event.originator_version
        if version is None:
            raise RoomNotFound(room_id, f"room {room_id} did not exist at {at.isoformat()}")
        return version

    def _take_snapshots(self, processing_event: Any) -> None:
        # the events are already recorded; a failed snapshot only costs replay time
        try:
            super()._take_snapshots(processing_event)
        except Exception:
            log.exception("snapshot failed")


def _room_id(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise RoomNotFound(value) from None


def _now(now: datetime | None) -> datetime:
    return datetime.now(timezone.utc) if now is None else now


def _snapshot_interval(env: Any) -> int:
    return _non_negative(env, SNAPSHOT_INTERVAL, 0)


def _setting(env: Any, name: str, default: str) -> str:
    return env.get(name) or default


def _non_negative(env: Any, name: str, default: int) -> int:
    raw = _setting(env, name, str(default))
    try:
        return max(0, int(raw))
    except ValueError:
        raise InvalidArgument(f"{name} must be an integer") from None
