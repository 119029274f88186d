"""Who causes an event. Every room event records its actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import InvalidArgument

ACTOR_KINDS = ("api_key", "participant", "node", "system")


@dataclass(frozen=True)
class Actor:
    """The caller of a command.

    ``kind`` is ``api_key``, ``participant``, ``node`` or ``system``; ``id`` is the
    key id, the identity, the node id, or e.g. ``scheduler``. A participant's
    ``participant_id`` is optional: when absent, the room finds the identity's
    active participant. A role claimed by a token is never trusted: host rights
    come from the room's own participant record, or from an API key.
    """

    kind: str
    id: str
    participant_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise InvalidArgument(f"unknown actor kind {self.kind!r}", field="actor")
        if not isinstance(self.id, str) or not self.id:
            raise InvalidArgument("actor id must be a non-empty string", field="actor")

    def as_dict(self) -> dict[str, Any]:
        """The form stored on events and shown by the API."""
        data: dict[str, Any] = {"kind": self.kind, "id": self.id}
        if self.participant_id is not None:
            data["participantId"] = self.participant_id
        return data


SCHEDULER = Actor("system", "scheduler")
MEDIA_ASSIGNER = Actor("system", "media-assigner")
