"""A room as the node sees it: live sessions, published tracks, enforcement state.

Per-packet state never leaves the node; this holds only what enforcement needs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from ..errors import Conflict, Forbidden
from ..signaling import notices
from ..signaling.tokens import MediaClaims
from .forwarding import PublishedTrack
from .session import Session

logger = logging.getLogger(__name__)


@dataclass
class RoomPolicy:
    """The part of the room policy a node enforces.

    :param max_participants: sessions the room admits.
    :param audio_only: nobody publishes video.
    :param seq: the room version ``audio_only`` is as of (a media token's ``seq`` or a
        ``PolicyChanged``'s); -1 until the first admitted session's token tells.
    """

    max_participants: int = 64
    audio_only: bool = False
    seq: int = -1


@dataclass
class Room:
    """Sessions and tracks of one room on this node.

    :param id: the room id (the token's ``room`` claim).
    :param policy: capacity and other enforced settings.
    """

    id: str
    policy: RoomPolicy = field(default_factory=RoomPolicy)
    sessions: dict[str, Session] = field(default_factory=dict)
    sources: list[PublishedTrack] = field(default_factory=list)
    muted: dict[str, set[str]] = field(default_factory=dict)
    kicked: set[str] = field(default_factory=set)
    # participant ids the control plane says have left: a join gives a new id, so an old
    # media token must not bring a departed session back (tokens outlive sessions)
    departed: set[str] = field(default_factory=set)
    roles: dict[str, str] = field(default_factory=dict)
    closed: bool = False
    # the highest event sequence number seen on the room's feed (recordings' startSeq/endSeq)
    last_seq: int = 0
    # called with every track published from now on (recordings)
    on_publish: list[Callable[[PublishedTrack], None]] = field(default_factory=list)

    def check_admit(self, claims: MediaClaims) -> None:
        """Refuse a join the room does not allow.

        :raises Conflict: the room is closed.
        :raises Forbidden: kicked or departed participant, or full room.
        """
        if self.closed:
            raise Conflict("room_closed", f"room {self.id} is closed")
        if claims.participant_id in self.kicked:
            raise Forbidden("kicked", "this participant was removed from the room")
        if claims.participant_id in self.departed:
            raise Forbidden("participant_left", "this session has left the room; join again")
        others = [pid for pid in self.sessions if pid != claims.participant_id]
        if len(others) >= self.policy.max_participants:
            raise Forbidden("room_full", f"room holds {self.policy.max_participants}")

    def role_of(self, claims: MediaClaims) -> str:
        """A promotion or demotion seen on the events feed outranks the token's role."""
        return self.roles.get(claims.participant_id, claims.role)

    def sources_for(self, participant_id: str) -> list[PublishedTrack]:
        """Tracks a participant should receive: everyone's but their own."""
        return [s for s in self.sources if s.publisher_id != participant_id and not s.closed]

    def publish(self, session: Session, source: PublishedTrack) -> None:
        """Register a new track, apply standing mutes, offer it to everyone else."""
        source.set_muted(source.kind in self.muted.get(session.participant_id, ()))
        self.sources.append(source)
        for observer in list(self.on_publish):
            observer(source)
        for other in self.sessions.values():
            if other is not session:
                other.add_source(source)

    def unpublish(self, source: PublishedTrack) -> None:
        """Withdraw a track from every subscriber."""
        if source in self.sources:
            self.sources.remove(source)
        for session in self.sessions.values():
            session.remove_source(source)

    def mute(self, participant_id: str, kinds: set[str], muted: bool) -> None:
        """Stop or resume forwarding ``kinds`` of a participant and tell them."""
        current = self.muted.setdefault(participant_id, set())
        current.difference_update(kinds) if not muted else current.update(kinds)
        session = self.sessions.get(participant_id)
        for source in self.sources:
            if source.publisher_id == participant_id and source.kind in kinds:
                source.set_muted(muted)
        if session is not None:
            for kind in sorted(kinds):
                session.notify(notices.muted(kind) if muted else notices.unmuted(kind))

    def set_role(self, participant_id: str, role: str) -> None:
        """Record a promotion/demotion and apply it to a live session."""
        self.roles[participant_id] = role
        session = self.sessions.get(participant_id)
        if session is not None and session.role != role:
            session.set_role(role)

    def allows(self, kind: str) -> bool:
        """Whether a track of ``kind`` may be published: no video in an audio-only room."""
        return not (kind == "video" and self.policy.audio_only)

    def apply_policy(self, policy: dict, seq: int | None = None) -> None:
        """Take the enforced fields from a ``PolicyChanged`` payload (of room version
        ``seq``, if known)."""
        if "maxParticipants" in policy:
            self.policy.max_participants = int(policy["maxParticipants"])
        if isinstance(policy.get("audioOnly"), bool):
            self.set_audio_only(policy["audioOnly"], seq)

    def set_audio_only(self, audio_only: bool, seq: int | None) -> None:
        """Take ``audioOnly`` as of room version ``seq`` unless the room knows a newer
        value; becoming audio-only unpublishes every live video track.

        The node follows a room's feed from its first event, so a replayed
        ``PolicyChanged`` older than the token that opened the room must not undo it
        (``seq`` None: a change of unknown age, always taken).
        """
        if seq is not None:
            if seq <= self.policy.seq:
                return
            self.policy.seq = seq
        self.policy.audio_only = audio_only
        if audio_only:
            for session in list(self.sessions.values()):
                session.unpublish("video")
