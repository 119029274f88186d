"""What a reader may see of a room and of its events, by who the reader is now.

Three scopes, decided from the room's current record of the reader (never from a
token's claimed role, as for host rights):

- ``full``: API keys, the control plane, the room's media node and its joined hosts.
  The whole view, past versions, every event.
- ``member``: a joined speaker or audience member. The room and its joined
  participants' public fields; events of the live call. Knocks, denials, bans and ban
  lifts of others are not theirs to see, nor why others left.
- ``self``: anyone else with a token of the room (waiting in the waiting room, departed,
  not yet joined). The room's name and status and their own record; events about
  themselves and the room opening or closing.

Views and events are filtered from their JSON form (``views.room_view``,
``views.event_view``), so a command's result is scoped the same way as a read.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.actor import Actor
from chalicelib.domain.roster import active_session

FULL, MEMBER, SELF = "full", "member", "self"
PUBLIC_FIELDS = ("id", "identity", "role", "handRaised", "muted")
MEMBER_ROOM_FIELDS = ("id", "name", "status", "policy", "metadata", "startsAt", "endsAt",
                      "persistent", "counts", "mediaNode", "version", "createdAt",
                      "updatedAt", "openedAt", "closedAt", "closedReason")
SELF_ROOM_FIELDS = ("id", "name", "status")

# what a member sees of anyone; any other type (and any type added later) stays hidden
ROOM_WIDE = {"RoomCreated", "RoomOpened", "RoomClosed", "PolicyChanged", "MediaNodeAssigned"}
ON_STAGE = {"HandRaised", "HandLowered", "ParticipantPromoted", "ParticipantDemoted",
            "ParticipantMuted", "ParticipantUnmuted"}
DEPARTURES = {"ParticipantLeft", "ParticipantKicked"}
# that the call is recorded is every member's business; where to and what was written
# is the hosts': members see these events with only these fields
RECORDING_NOTICES = {"RecordingStarted": ("recordingId", "output"),
                     "RecordingStopped": ("recordingId", "reason"),
                     "RecordingCompleted": ("recordingId",), "RecordingFailed": ("recordingId",)}
# what a ``self`` reader sees besides its own events: the status it may read anyway
LIFECYCLE = {"RoomOpened", "RoomClosed"}


def reader_scope(view: dict | None, actor: Actor) -> str:
    """``full``, ``member`` or ``self`` for ``actor`` reading the room whose current
    full view is ``view``."""
    if actor.kind != "participant":
        return FULL  # api_key, system, node: the edge checked which rooms they reach
    own = active_session(view["participants"], actor.id)
    if own is None or own["state"] != "joined":
        return SELF
    return FULL if own["role"] == "host" else MEMBER


def scoped_view(view: dict, actor: Actor) -> dict:
    """The room ``view`` (current state, full) as ``actor`` may see it."""
    scope = reader_scope(view, actor)
    if scope == FULL:
        return view
    if scope == MEMBER:
        scoped = {k: view[k] for k in MEMBER_ROOM_FIELDS}
        scoped["participants"] = [{k: p[k] for k in PUBLIC_FIELDS}
                                  for p in view["participants"] if p["state"] == "joined"]
        return scoped
    return {**{k: view[k] for k in SELF_ROOM_FIELDS}, "participant": own_record(view, actor.id)}


def own_record(view: dict, identity: str) -> dict | None:
    """The identity's active session, else its latest one the room still keeps."""
    active = active_session(view["participants"], identity)
    if active is not None:
        return active
    mine = [p for p in view["participants"] if p["identity"] == identity]
    return mine[-1] if mine else None


class EventFilter:
    """Filters a room's events, read in order, for one reader.

    It remembers each session's identity, role and whether it was ever joined: seeded
    from the room's current view, then updated from the events it reads, so a member
    learns who an admitted participant is and never hears of a knock that was not
    admitted. Sessions pruned from the room's state are unknown: their departures stay
    hidden from members (hiding is the safe side).
    """

    def __init__(self, actor: Actor, view: dict | None = None):
        """``view``: the room's current full view; not needed for a non-participant."""
        self.scope = reader_scope(view, actor)
        self.identity = actor.id if actor.kind == "participant" else None
        self.sessions = {p["id"]: {"identity": p["identity"], "role": p["role"],
                                   "joined": p["joinedAt"] is not None}
                         for p in (view["participants"] if view else ())}

    def visible(self, events: list[dict]) -> list[dict]:
        """The events of ``events`` this reader may see, each as they may see it."""
        if self.scope == FULL:
            return events
        shown = []
        for event in events:
            seen = self._scoped(event)
            self._learn(event)
            if seen is not None:
                shown.append(seen)
        return shown

    def _scoped(self, event: dict) -> dict | None:
        kind, data = event["type"], event["data"]
        if self.scope == SELF:
            if self._is_mine(event) or kind in LIFECYCLE:
                return {**event, "actor": self._anonymous(event["actor"])}
            return None
        if self._is_mine(event):
            return event
        if kind in ROOM_WIDE or kind in ON_STAGE:
            return event
        if kind in RECORDING_NOTICES:
            return {**event, "data": {k: data[k] for k in RECORDING_NOTICES[kind]}}
        if kind == "ParticipantJoined":
            return {**event, "data": {k: v for k, v in data.items() if k != "callId"}}
        session = self.sessions.get(data.get("participantId"))
        if kind == "ParticipantAdmitted" and session is not None:
            return {**event, "data": {**data, "identity": session["identity"],
                                      "role": session["role"]}}
        if kind in DEPARTURES and session is not None and session["joined"]:
            # the session ended; why (and a kick's ban) stays with the hosts
            return {**event, "type": "ParticipantLeft",
                    "data": {"participantId": data["participantId"]}}
        return None

    def _is_mine(self, event: dict) -> bool:
        data = event["data"]
        if self.identity is None:
            return False
        if data.get("identity") == self.identity:
            return True
        session = self.sessions.get(data.get("participantId"))
        return session is not None and session["identity"] == self.identity

    def _anonymous(self, actor: dict) -> dict:
        """A ``self`` reader sees no other identity, not even the host who admitted it."""
        if actor.get("kind") == "participant" and actor.get("id") != self.identity:
            return {"kind": "participant", "id": None}
        return actor

    def _learn(self, event: dict) -> None:
        kind, data = event["type"], event["data"]
        pid = data.get("participantId")
        if kind == "PolicyChanged" and not data["policy"]["stageMode"]:
            for session in self.sessions.values():  # as PolicyChanged.apply does
                if session["role"] == "audience":
                    session["role"] = "speaker"
        elif kind in ("ParticipantJoined", "ParticipantKnocked"):
            self.sessions[pid] = {"identity": data["identity"], "role": data["role"],
                                  "joined": kind == "ParticipantJoined"}
        elif pid in self.sessions:
            session = self.sessions[pid]
            if kind == "ParticipantAdmitted":
                session["joined"] = True
            elif kind == "ParticipantPromoted":
                session["role"] = "speaker"
            elif kind == "ParticipantDemoted":
                session["role"] = "audience"
