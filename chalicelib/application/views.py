"""JSON-ready views of rooms and their events: camelCase keys, ISO-8601 times
(UTC, ``Z``), ids as strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from chalicelib.domain import Room
from chalicelib.domain.leftovers import sweep_status

# event fields that are bookkeeping, not data
_EVENT_META = ("originator_id", "originator_version", "timestamp", "actor", "originator_topic")


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def jsonable(value: Any, *, camel_keys: bool = False) -> Any:
    """Datetimes to ISO strings, UUIDs to strings; optionally camelCase dict keys."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {
            (camel(k) if camel_keys else k): jsonable(v, camel_keys=camel_keys)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [jsonable(v, camel_keys=camel_keys) for v in value]
    return value


def participant_view(p: dict) -> dict[str, Any]:
    return {
        "id": p["participant_id"],
        "identity": p["identity"],
        "role": p["role"],
        "state": p["state"],
        "handRaised": p["hand_raised"],
        "muted": dict(p["muted"]),
        "callId": p["call_id"],
        "joinedAt": iso(p["joined_at"]),
        "leftAt": iso(p["left_at"]),
        "reason": p["reason"],
    }


def media_node_view(room: Room) -> dict[str, Any] | None:
    return jsonable(room.media_node, camel_keys=True) if room.media_node else None


def room_view(room: Room) -> dict[str, Any]:
    participants = [participant_view(p) for p in room.participants.values()]
    return {
        "id": str(room.id),
        "name": room.name,
        "status": room.status,
        "policy": jsonable(room.policy),
        "metadata": jsonable(room.metadata),
        "startsAt": iso(room.starts_at),
        "endsAt": iso(room.ends_at),
        "persistent": room.persistent,
        "participants": participants,
        "counts": {
            "joined": sum(1 for p in participants if p["state"] == "joined"),
            "waiting": sum(1 for p in participants if p["state"] == "waiting"),
        },
        "bans": [
            {"identity": identity, "at": iso(ban["at"]), "by": ban["by"]}
            for identity, ban in room.bans.items()
        ],
        "mediaNode": media_node_view(room),
        "version": room.version,
        "createdAt": iso(room.created_on),
        "updatedAt": iso(room.modified_on),
        "openedAt": iso(room.opened_at),
        "closedAt": iso(room.closed_at),
        "closedReason": room.closed_reason,
    }


def join_view(room: Room, participant_id: str) -> dict[str, Any]:
    p = room.participants[participant_id]
    return {
        "roomId": str(room.id),
        "participantId": participant_id,
        "identity": p["identity"],
        "callId": p["call_id"],
        "status": p["state"],
        "role": p["role"],
        "mediaMode": room.policy["mediaMode"],
        "audioOnly": room.policy["audioOnly"],
        "canPublish": {k: room.can_publish(participant_id, k) for k in ("audio", "video")},
        "mediaNode": media_node_view(room),
        "version": room.version,
    }


def event_view(event: Any) -> dict[str, Any]:
    data = {k: v for k, v in vars(event).items() if k not in _EVENT_META}
    return {
        "seq": event.originator_version,
        "type": type(event).__name__,
        "time": iso(event.timestamp),
        "actor": dict(event.actor),
        # only field names change case: policy and metadata keep the caller's keys
        "data": {camel(k): jsonable(v) for k, v in data.items()},
    }


def recording_view(recording: dict) -> dict[str, Any]:
    """``{recordingId, output, status, destinationId, files, error?, ...}``; the files are
    the node's manifest entries as it reported them."""
    view = {
        "recordingId": recording["recording_id"],
        "output": recording["output"],
        "status": recording["status"],
        "destinationId": recording["destination_id"],
        "files": jsonable(recording["files"]),
        "startedAt": iso(recording["started_at"]),
        "stoppedAt": iso(recording["stopped_at"]),
        "endedAt": iso(recording["ended_at"]),
    }
    if recording["status"] == "failed":
        view["reason"], view["error"] = recording["reason"], recording["error"]
    if recording.get("leftovers") is not None:
        view["leftovers"] = leftovers_view(recording["leftovers"])
    return view


def leftovers_view(leftovers: dict) -> dict[str, Any]:
    """``{objects, uploads, error, status, attempts, firstAttemptAt, recordedAt}``
    (docs/api.md); leftovers listed before retries existed were one sweep."""
    return {"objects": jsonable(leftovers["objects"]), "uploads": jsonable(leftovers["uploads"]),
            "error": leftovers["error"], "status": sweep_status(leftovers),
            "attempts": leftovers.get("attempts", 1),
            "firstAttemptAt": iso(leftovers.get("since")), "recordedAt": iso(leftovers.get("at"))}
