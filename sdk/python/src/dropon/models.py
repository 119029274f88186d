"""What the API answers, as typed objects.

Each result keeps the API's whole JSON in ``raw`` (``room.raw["counts"]``, and
``room["counts"]`` as a shortcut) beside the fields most callers read, in snake_case.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, TypeVar

T = TypeVar("T", bound="Model")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Model:
    """Shared behaviour: built from the API's camelCase JSON, indexable by its keys."""

    raw: dict
    # fields built from the JSON by a function of their own (a list of files, say)
    nested: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    @classmethod
    def from_api(cls: type[T], data: dict) -> T:
        """Build from the API's JSON; unknown keys stay in ``raw`` only."""
        names = {f.name for f in fields(cls)} - {"raw"}
        values = {_snake(k): v for k, v in data.items() if _snake(k) in names}
        values.update({k: build(values.get(k)) for k, build in cls.nested.items()})
        return cls(**values, raw=data)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        """``raw.get(key, default)``: any field the API answered."""
        return self.raw.get(key, default)


@dataclass(frozen=True)
class Room(Model):
    """A room as the caller's token may read it (``docs/api.md``, "What a token reads")."""

    id: str
    name: str | None = None
    status: str | None = None
    policy: dict | None = None
    metadata: dict | None = None
    participants: list = field(default_factory=list)
    version: int | None = None
    raw: dict = field(default_factory=dict, repr=False)

    def participant(self, identity: str) -> dict | None:
        """The latest record of ``identity`` in ``participants``, or ``None``."""
        found = [p for p in self.participants if p.get("identity") == identity]
        return found[-1] if found else None


@dataclass(frozen=True)
class Token(Model):
    """A participant token minted for one room, identity and role."""

    token: str
    room_id: str
    identity: str
    role: str
    expires_at: str | None = None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class MediaGrant(Model):
    """Where an SFU participant connects: POST an SDP offer to ``url`` with ``token``."""

    node_id: str
    url: str
    token: str
    expires_at: str | None = None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class JoinedCall(Model):
    """A participant's session after :meth:`dropon.Client.join_room`.

    ``call_id`` comes from the room socket's ``GROUP_CALL_JOINED`` (``None`` while the
    session still waits for a host); ``media`` is the SFU grant, ``None`` in P2P rooms,
    while waiting or when no media node is up (then ``raw["mediaError"]`` says why).
    """

    room_id: str
    participant_id: str
    status: str
    role: str | None = None
    call_id: str | None = None
    media: MediaGrant | None = None
    token: str | None = None
    event: dict | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_join(cls, answer: dict, token: str, event: dict | None,
                  media: dict | None = None) -> "JoinedCall":
        """From the join answer and, when it came, the ``GROUP_CALL_JOINED`` message."""
        grant = media if media is not None else answer.get("media")
        return cls(room_id=answer["roomId"], participant_id=answer["participantId"],
                   status="joined" if event else answer["status"], role=answer.get("role"),
                   call_id=(event or {}).get("data", {}).get("callId"),
                   media=MediaGrant.from_api(grant) if grant else None, token=token,
                   event=event, raw=answer)


@dataclass(frozen=True)
class Event(Model):
    """One room event: ``seq`` (the room's event number), ``type`` and ``data``.

    From the socket ``type`` is the socket's name (``GROUP_CALL_JOINED``, ``HAND_RAISED``);
    from the long poll it is the stored event's (``ParticipantJoined``).
    """

    seq: int
    type: str
    time: str | None = None
    room_id: str | None = None
    data: dict = field(default_factory=dict)
    actor: dict | None = None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class RecordingFile(Model):
    """One file a recording wrote to the bucket, as its manifest lists it."""

    uri: str
    bytes: int | None = None
    sha256: str | None = None
    etag: str | None = None
    duration_seconds: float | None = None
    kind: str | None = None
    codecs: list = field(default_factory=list)
    participant_id: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    start_seq: int | None = None
    end_seq: int | None = None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Recording(Model):
    """A recording and its manifest; ``status`` runs ``starting`` to ``completed``/``failed``."""

    recording_id: str
    status: str
    output: str | None = None
    destination_id: str | None = None
    files: list = field(default_factory=list)
    reason: str | None = None
    error: Any = None
    raw: dict = field(default_factory=dict, repr=False)

    TERMINAL: ClassVar[tuple] = ("completed", "failed")
    nested: ClassVar[dict] = {"files": lambda files: [RecordingFile.from_api(f)
                                                      for f in files or []]}

    @property
    def done(self) -> bool:
        """Whether the recording reached ``completed`` or ``failed``."""
        return self.status in self.TERMINAL


@dataclass(frozen=True)
class Destination(Model):
    """A registered bucket; ``secret_fields`` names the secrets it holds, never their values."""

    destination_id: str
    type: str
    secret_fields: list = field(default_factory=list)
    created_at: str | None = None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Webhook(Model):
    """A webhook endpoint; ``secret`` only in the answers that create or rotate it."""

    webhook_id: str
    url: str | None = None
    events: list = field(default_factory=list)
    rooms: list | None = None
    status: str | None = None
    secret: str | None = None
    raw: dict = field(default_factory=dict, repr=False)
