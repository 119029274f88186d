"""Room events as real-time socket messages, scoped per reader (``docs/api.md``).

``ReaderFeed`` turns a room's events, read in order, into the messages one reader may
get: ``visibility.EventFilter`` decides what the reader sees (the long poll's rule, not a
copy of it); this module only names the types and keeps every ``callId`` but the
reader's own ``GROUP_CALL_JOINED`` out. No I/O here.
"""
from __future__ import annotations

from .visibility import EventFilter
from ..domain.actor import Actor

TYPES = {
    "ParticipantJoined": "PARTICIPANT_JOINED", "ParticipantLeft": "PARTICIPANT_LEFT",
    "ParticipantKnocked": "WAITING", "ParticipantAdmitted": "ADMITTED",
    "ParticipantDenied": "DENIED", "HandRaised": "HAND_RAISED", "HandLowered": "HAND_LOWERED",
    "ParticipantPromoted": "ROLE_CHANGED", "ParticipantDemoted": "ROLE_CHANGED",
    "ParticipantMuted": "MUTED", "ParticipantUnmuted": "UNMUTED",
    "ParticipantKicked": "KICKED", "PolicyChanged": "POLICY_CHANGED",
    "MediaNodeAssigned": "MEDIA_NODE_CHANGED", "RoomClosed": "ROOM_CLOSED",
    "RecordingStarted": "RECORDING_STARTED", "RecordingStopped": "RECORDING_STOPPED",
    "RecordingCompleted": "RECORDING_COMPLETED", "RecordingFailed": "RECORDING_FAILED",
}
ROLE_OF = {"ParticipantPromoted": "speaker", "ParticipantDemoted": "audience"}
JOINS = ("ParticipantJoined", "ParticipantAdmitted")


class ReaderFeed:
    """The messages of one reader (an ``Actor``) of a room whose current full view is
    ``view``; feed it the room's events in ``seq`` order."""

    def __init__(self, actor: Actor, view: dict):
        self.room_id = view["id"]
        self.filter = EventFilter(actor, view)
        self.identity = actor.id if actor.kind == "participant" else None
        # the reader's own sessions and their call ids: only these are ever shown
        self.own = {p["id"]: p["callId"] for p in view["participants"]
                    if self.identity is not None and p["identity"] == self.identity}

    def messages(self, events: list[dict]) -> list[dict]:
        out = []
        for event in events:
            data = event["data"]
            if event["type"] in ("ParticipantJoined", "ParticipantKnocked") \
                    and data["identity"] == self.identity:
                self.own[data["participantId"]] = data["callId"]
            for seen in self.filter.visible([event]):
                message = self.message(seen)
                if message is not None:
                    out.append(message)
        return out

    def message(self, event: dict) -> dict | None:
        """``event`` (as the reader may see it) as a socket message, or ``None``."""
        kind, data = event["type"], event["data"]
        pid = data.get("participantId")
        if kind in JOINS and pid in self.own:
            data = {k: v for k, v in data.items() if k != "callId"}
            data["callId"] = self.own[pid]
            if kind == "ParticipantAdmitted":
                data["admitted"] = True
            return self._shape("GROUP_CALL_JOINED", event, data)
        name = TYPES.get(kind)
        if name is None:
            return None
        data = {k: v for k, v in data.items() if k != "callId"}
        if kind in ROLE_OF:
            data["role"] = ROLE_OF[kind]
        return self._shape(name, event, data)

    def _shape(self, name: str, event: dict, data: dict) -> dict:
        return {"type": name, "seq": event["seq"], "roomId": self.room_id,
                "time": event["time"], "data": data}
