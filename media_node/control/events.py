"""Room events the node acts on, whether fed by the control plane or by a test."""
from __future__ import annotations

from typing import Any

from ..errors import BadRequest

KNOWN = {
    "ParticipantMuted", "ParticipantUnmuted", "ParticipantKicked", "ParticipantPromoted",
    "ParticipantDemoted", "ParticipantLeft", "RoomClosed", "PolicyChanged",
    "RecordingStarted", "RecordingStopped", "RecordingRetryRequested",
}


def event_payload(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split an event into ``(type, fields)``.

    Fields may sit at the top level or under ``data``; both shapes are accepted.

    :raises BadRequest: when the event has no type.
    """
    kind = event.get("type")
    if not isinstance(kind, str):
        raise BadRequest("bad_event", "event has no type")
    fields = dict(event.get("data") or {})
    fields.update({k: v for k, v in event.items() if k not in ("type", "data")})
    return kind, fields


def muted_kinds(fields: dict[str, Any]) -> set[str]:
    """Kinds a mute/unmute event names: the control plane's ``kinds: ["audio"]``, or
    ``audio: true`` ...; naming none at all means both."""
    if isinstance(fields.get("kinds"), list):
        return {kind for kind in fields["kinds"] if kind in ("audio", "video")}
    if "audio" not in fields and "video" not in fields:
        return {"audio", "video"}
    return {kind for kind in ("audio", "video") if fields.get(kind)}
