"""Domain errors of rooms.

Each error carries a stable ``code`` (the API's error code) and a ``status``
hint, so the HTTP layer maps errors to responses in one place, plus the ids it
concerns (``room_id``, ``participant_id``, ``identity``, ``field``...).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class of every error the domain and application raise on purpose."""

    code = "domain_error"
    status = 400

    def __init__(self, message: str = "", *, code: str | None = None, **ids: Any):
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.__class__.__name__
        if code is not None:
            self.code = code
        self.ids = {k: v for k, v in ids.items() if v is not None}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready body: code, message and the ids (camelCase, as strings)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        for key, value in self.ids.items():
            head, *rest = key.split("_")
            body[head + "".join(p.title() for p in rest)] = str(value)
        return body


class RoomNotFound(DomainError):
    code, status = "room_not_found", 404

    def __init__(self, room_id: Any, message: str = "", **ids: Any):
        super().__init__(message or f"room {room_id} not found", room_id=room_id, **ids)


class VersionNotFound(RoomNotFound):
    code = "version_not_found"


class ParticipantNotFound(DomainError):
    code, status = "participant_not_found", 404

    def __init__(self, participant_id: Any, message: str = "", **ids: Any):
        super().__init__(
            message or f"participant {participant_id} not found",
            participant_id=participant_id,
            **ids,
        )


class RecordingNotFound(DomainError):
    code, status = "recording_not_found", 404

    def __init__(self, recording_id: Any, message: str = "", **ids: Any):
        super().__init__(message or f"recording {recording_id} not found",
                         recording_id=recording_id, **ids)


class DestinationRefused(DomainError):
    """A destination registered with ``verify: true`` whose store refused the probe."""

    code, status = "destination_refused", 422


class DestinationNotFound(DomainError):
    code, status = "destination_not_found", 404

    def __init__(self, destination_id: Any, message: str = "", **ids: Any):
        super().__init__(message or f"destination {destination_id} not found",
                         destination_id=destination_id, **ids)


class NotAllowed(DomainError):
    """The actor may not do this (codes: ``forbidden``, ``not_a_host``...)."""

    code, status = "forbidden", 403


class IdentityBanned(NotAllowed):
    code = "banned"


class RoomClosed(DomainError):
    code, status = "room_closed", 409


class RoomFull(DomainError):
    code, status = "room_full", 409


class AlreadyJoined(DomainError):
    code, status = "already_joined", 409


class HostRequired(DomainError):
    code, status = "host_required", 409


class InvalidState(DomainError):
    """The command does not fit the current state (sub-codes name why)."""

    code, status = "invalid_state", 409


class Conflict(DomainError):
    """Concurrent writers kept winning; the command gave up after its retries."""

    code, status = "conflict", 409


class InvalidArgument(DomainError):
    code, status = "invalid_argument", 422


class InvalidPolicy(InvalidArgument):
    code = "invalid_policy"
