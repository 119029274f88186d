"""The events of a room: past-tense facts, each with its actor and time.

An event's ``apply`` only changes state; every check happens in the command
before the event is triggered (see ``room.py``). Event fields and room state
hold only JSON types and datetimes, so snapshots and replays compare equal.
Topics are ``chalicelib.domain.events:<Name>``: renaming a class or this module
orphans stored events.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import AggregateCreated, AggregateEvent

if TYPE_CHECKING:
    from chalicelib.domain.room import Room

ACTIVE = ("joined", "waiting")
# departed records kept in the live state; older ones live on in the events
MAX_DEPARTED = 100


class RoomEvent(AggregateEvent):
    actor: dict


class RoomCreated(AggregateCreated):
    actor: dict
    name: str
    policy: dict
    metadata: dict
    starts_at: datetime | None
    ends_at: datetime | None
    persistent: bool

    def apply(self, room: Room) -> None:
        room.name = self.name
        room.policy, room.metadata = copy.deepcopy(self.policy), copy.deepcopy(self.metadata)
        room.starts_at, room.ends_at = self.starts_at, self.ends_at
        room.persistent = self.persistent
        room.status = "scheduled"
        room.opened_at = room.closed_at = room.closed_reason = None
        room.participants, room.bans = {}, {}
        room.media_node = None
        room.empty_since = None
        room.recordings = {}


class RoomOpened(RoomEvent):
    reason: str

    def apply(self, room: Room) -> None:
        room.status, room.opened_at = "open", self.timestamp
        _note_if_empty(room, self.timestamp)


class RoomClosed(RoomEvent):
    reason: str

    def apply(self, room: Room) -> None:
        room.status, room.closed_at, room.closed_reason = "closed", self.timestamp, self.reason
        for p in room.participants.values():
            if p["state"] in ACTIVE:
                _depart(p, "left", "room_closed", self.timestamp)
        room.empty_since = None
        _prune(room)


class PolicyChanged(RoomEvent):
    changes: dict
    policy: dict

    def apply(self, room: Room) -> None:
        room.policy = copy.deepcopy(self.policy)
        if not self.policy["stageMode"]:
            # without stage mode everyone but hosts is a speaker
            for p in room.participants.values():
                if p["role"] == "audience":
                    p["role"] = "speaker"


class ParticipantJoined(RoomEvent):
    participant_id: str
    identity: str
    role: str
    call_id: str

    def apply(self, room: Room) -> None:
        room.participants[self.participant_id] = _record(self, "joined")
        room.empty_since = None


class ParticipantKnocked(RoomEvent):
    """The participant waits in the waiting room for a host's decision."""

    participant_id: str
    identity: str
    role: str
    call_id: str

    def apply(self, room: Room) -> None:
        room.participants[self.participant_id] = _record(self, "waiting")


class ParticipantAdmitted(RoomEvent):
    participant_id: str

    def apply(self, room: Room) -> None:
        p = room.participants[self.participant_id]
        p["state"], p["joined_at"] = "joined", self.timestamp
        room.empty_since = None


class ParticipantDenied(RoomEvent):
    participant_id: str

    def apply(self, room: Room) -> None:
        _depart(room.participants[self.participant_id], "denied", "denied", self.timestamp)
        _prune(room)


class ParticipantLeft(RoomEvent):
    participant_id: str
    reason: str

    def apply(self, room: Room) -> None:
        _depart(room.participants[self.participant_id], "left", self.reason, self.timestamp)
        _note_if_empty(room, self.timestamp)
        _prune(room)


class ParticipantKicked(RoomEvent):
    """Ends the session and bans the identity until a host lifts the ban."""

    participant_id: str
    identity: str

    def apply(self, room: Room) -> None:
        _depart(room.participants[self.participant_id], "kicked", "kicked", self.timestamp)
        room.bans[self.identity] = {"at": self.timestamp, "by": self.actor}
        _note_if_empty(room, self.timestamp)
        _prune(room)


class BanLifted(RoomEvent):
    identity: str

    def apply(self, room: Room) -> None:
        del room.bans[self.identity]


class HandRaised(RoomEvent):
    participant_id: str

    def apply(self, room: Room) -> None:
        room.participants[self.participant_id]["hand_raised"] = True


class HandLowered(RoomEvent):
    participant_id: str

    def apply(self, room: Room) -> None:
        room.participants[self.participant_id]["hand_raised"] = False


class ParticipantPromoted(RoomEvent):
    """Audience to speaker; clears the hand."""

    participant_id: str

    def apply(self, room: Room) -> None:
        p = room.participants[self.participant_id]
        p["role"], p["hand_raised"] = "speaker", False


class ParticipantDemoted(RoomEvent):
    participant_id: str

    def apply(self, room: Room) -> None:
        room.participants[self.participant_id]["role"] = "audience"


class ParticipantMuted(RoomEvent):
    """A server-side mute that the media node enforces; ``audio``/``video`` say
    which kinds this event mutes."""

    participant_id: str
    audio: bool
    video: bool

    def apply(self, room: Room) -> None:
        _set_muted(room.participants[self.participant_id], self, True)


class ParticipantUnmuted(RoomEvent):
    """Lifts the server-side mute of the kinds flagged ``audio``/``video``."""

    participant_id: str
    audio: bool
    video: bool

    def apply(self, room: Room) -> None:
        _set_muted(room.participants[self.participant_id], self, False)


class MediaNodeAssigned(RoomEvent):
    node_id: str
    url: str

    def apply(self, room: Room) -> None:
        room.media_node = {"node_id": self.node_id, "url": self.url, "assigned_at": self.timestamp}


# recordings (commands in recordings.py): a recording's record, by recording id


class RecordingStarted(RoomEvent):
    recording_id: str
    output: str
    destination_id: str

    def apply(self, room: Room) -> None:
        recordings(room)[self.recording_id] = {
            "recording_id": self.recording_id, "output": self.output,
            "destination_id": self.destination_id, "status": "starting", "files": [],
            "reason": None, "error": None, "started_at": self.timestamp,
            "stopped_at": None, "ended_at": None,
        }


class RecordingWritingStarted(RoomEvent):
    """The node reported that it writes the recording's media."""

    recording_id: str

    def apply(self, room: Room) -> None:
        recordings(room)[self.recording_id]["status"] = "recording"


class RecordingStopped(RoomEvent):
    """No more media is written (``reason``: ``stopped``, ``room_closed``)."""

    recording_id: str
    reason: str

    def apply(self, room: Room) -> None:
        r = recordings(room)[self.recording_id]
        r["status"], r["stopped_at"] = "stopping", self.timestamp


class RecordingUploadStarted(RoomEvent):
    """The node finishes uploading what it wrote."""

    recording_id: str

    def apply(self, room: Room) -> None:
        recordings(room)[self.recording_id]["status"] = "uploading"


class RecordingUploaded(RoomEvent):
    """One file is complete in the destination; ``file`` is its manifest entry."""

    recording_id: str
    file: dict

    def apply(self, room: Room) -> None:
        recordings(room)[self.recording_id]["files"].append(copy.deepcopy(self.file))


class RecordingCompleted(RoomEvent):
    recording_id: str
    files: list

    def apply(self, room: Room) -> None:
        r = recordings(room)[self.recording_id]
        r["status"], r["files"], r["ended_at"] = "completed", copy.deepcopy(self.files), self.timestamp


class RecordingFailed(RoomEvent):
    """``files``: those that did reach the destination."""

    recording_id: str
    reason: str
    error: str | None
    files: list

    def apply(self, room: Room) -> None:
        r = recordings(room)[self.recording_id]
        r["status"], r["reason"], r["error"] = "failed", self.reason, self.error
        r["files"], r["ended_at"] = copy.deepcopy(self.files), self.timestamp


class RecordingLeftoversListed(RoomEvent):
    """What a lost node left in the destination under the recording's prefix, as far as
    the sweeps so far found: ``objects`` complete there (``{key, bytes, etag}``),
    multipart ``uploads`` it never finished (``{key, uploadId, parts, bytes, aborted}``),
    ``error`` if the store could not say; ``status`` (``leftovers.py``: swept, retrying,
    stopped, gave_up) after ``attempts`` sweeps. Version 2 added the last two."""

    class_version = 2

    recording_id: str
    objects: list
    uploads: list
    error: str | None
    status: str
    attempts: int

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        # a single sweep, never retried
        state["status"] = "stopped" if state.get("error") else "swept"
        state["attempts"] = 1

    def apply(self, room: Room) -> None:
        r = recordings(room)[self.recording_id]
        since = (r.get("leftovers") or {}).get("since") or self.timestamp
        r["leftovers"] = {
            "objects": copy.deepcopy(self.objects), "uploads": copy.deepcopy(self.uploads),
            "error": self.error, "status": self.status, "attempts": self.attempts,
            "since": since, "at": self.timestamp}


class RecordingRetryRequested(RoomEvent):
    """A host asks the node to upload a failed recording's files again."""

    recording_id: str

    def apply(self, room: Room) -> None:
        r = recordings(room)[self.recording_id]
        r["status"], r["reason"], r["error"], r["ended_at"] = "uploading", None, None, None
        r["retries"] = r.get("retries", 0) + 1


def recordings(room: Room) -> dict[str, dict]:
    # snapshots taken before recordings existed have no such attribute
    return room.__dict__.setdefault("recordings", {})


def _record(event: ParticipantJoined | ParticipantKnocked, state: str) -> dict[str, Any]:
    return {
        "participant_id": event.participant_id,
        "identity": event.identity,
        "role": event.role,
        "state": state,
        "hand_raised": False,
        "muted": {"audio": False, "video": False},
        "call_id": event.call_id,
        "joined_at": event.timestamp if state == "joined" else None,
        "left_at": None,
        "reason": None,
    }


def _set_muted(p: dict, event: ParticipantMuted | ParticipantUnmuted, muted: bool) -> None:
    for kind in ("audio", "video"):
        if getattr(event, kind):
            p["muted"][kind] = muted


def _depart(p: dict, state: str, reason: str, at: datetime) -> None:
    p["state"], p["reason"], p["left_at"], p["hand_raised"] = state, reason, at, False


def _note_if_empty(room: Room, at: datetime) -> None:
    if room.status == "open" and room.empty_since is None and room.joined_count() == 0:
        room.empty_since = at


def _prune(room: Room) -> None:
    departed = [pid for pid, p in room.participants.items() if p["state"] not in ACTIVE]
    for pid in departed[: max(0, len(departed) - MAX_DEPARTED)]:
        del room.participants[pid]
