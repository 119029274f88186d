"""Typed errors, one class per API error code (``docs/api.md``, "Errors").

Every error the API answers becomes a :class:`DropOnError` subclass carrying the stable
``code``, the ``message`` and the HTTP ``status``; codes without a class of their own
get the class of their status (:class:`Conflict` for an unnamed 409, ...).
"""
from __future__ import annotations

from typing import Any


class DropOnError(Exception):
    """Base class of every error the SDK raises.

    :param code: the API's stable error code (``room_full``, ``token_expired``, ...).
    :param message: the API's human-readable message.
    :param status: the HTTP status (or ``4000 + status`` as a socket's close code maps back
        to it); ``None`` for errors that never reached the API.
    :param body: the whole ``error`` object, with the ids it names.
    """

    default_code = "error"
    default_status: int | None = None  # for errors the socket reports without a status

    def __init__(self, message: str = "", *, code: str | None = None,
                 status: int | None = None, body: dict | None = None,
                 retry_after: float | None = None):
        self.code = code or self.default_code
        self.message = message or self.code
        self.status = status if status is not None else self.default_status
        self.body: dict[str, Any] = body or {"code": self.code, "message": self.message}
        self.retry_after = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConnectionFailed(DropOnError):
    """The API or the events socket could not be reached (no HTTP answer)."""

    default_code = "connection_failed"


class InvalidRequest(DropOnError):
    """400 or 422: the request's JSON, parameters or fields were refused."""

    default_status = 422


class AuthenticationError(DropOnError):
    """401: the token is missing, malformed, forged or from an unknown key."""

    default_status = 401


class PermissionDenied(DropOnError):
    """403: the token may not do this."""

    default_status = 403


class NotFound(DropOnError):
    """404: no such room, participant, destination, recording, webhook or route."""

    default_status = 404


class Conflict(DropOnError):
    """409: the room's state refuses the command."""

    default_status = 409


class TooLarge(DropOnError):
    """413: the body is over the API's limit."""

    default_status = 413


class ServiceUnavailable(DropOnError):
    """503: try again later (``retry_after`` seconds, when the API says)."""

    default_status = 503


class TokenExpired(AuthenticationError):
    """``token_expired``: mint a fresh token."""


class TokenNotYetValid(AuthenticationError):
    """``token_not_yet_valid``: the token's ``nbf`` is in the future."""


class TokenLifetimeTooLong(AuthenticationError):
    """``token_lifetime_too_long``: an admin token may live at most an hour."""


class WrongRoom(PermissionDenied):
    """``wrong_room``: the participant token is for another room."""


class Banned(PermissionDenied):
    """``banned``: the identity was kicked from the room and not let back in."""


class NotAHost(PermissionDenied):
    """``not_a_host``: only an admin or a joined host may do this."""


class CannotKickHost(PermissionDenied):
    """``cannot_kick_host``: hosts kick hosts only with ``hostsCanKickHosts``."""


class RoomNotFound(NotFound):
    """``room_not_found``."""


class VersionNotFound(NotFound):
    """``version_not_found``: the room has no such version (``room_at``)."""


class ParticipantNotFound(NotFound):
    """``participant_not_found``."""


class DestinationNotFound(NotFound):
    """``destination_not_found``."""


class RecordingNotFound(NotFound):
    """``recording_not_found``."""


class WebhookNotFound(NotFound):
    """``webhook_not_found``."""


class RoomFull(Conflict):
    """``room_full``: the room has ``maxParticipants`` joined."""


class WaitingRoomFull(Conflict):
    """``waiting_room_full``: 256 participants already wait."""


class RoomClosed(Conflict):
    """``room_closed``: a closed room refuses joins, tokens and commands."""


class AlreadyJoined(Conflict):
    """``already_joined``: the identity has a session; mint a token with ``replace``."""


class HostRequired(Conflict):
    """``host_required``: the room opens with its first host (``hostRequired``)."""


class NotSfu(Conflict):
    """``not_sfu``: media grants and recordings need ``mediaMode: SFU``."""


class RecordingInProgress(Conflict):
    """``recording_in_progress``: a recording of that output is already running."""


class InvalidRecordingState(Conflict):
    """``invalid_recording_state``: the recording's status refuses the command."""


class InvalidPolicy(InvalidRequest):
    """``invalid_policy``: a policy field is unknown or out of range."""


class WebhookUrlNotAllowed(InvalidRequest):
    """``webhook_url_not_allowed``: the URL resolves to a private or loopback address."""


class NoMediaNode(ServiceUnavailable):
    """``no_media_node``: no healthy media node; retried by the client before raising."""


class StoreUnavailable(ServiceUnavailable):
    """``store_unavailable``: the room store is busy; retried before raising."""


class WebhooksNotConfigured(ServiceUnavailable):
    """``webhooks_not_configured``: the server has no ``DROPON_WEBHOOK_KEY``."""


BY_STATUS: dict[int, type[DropOnError]] = {
    400: InvalidRequest, 401: AuthenticationError, 403: PermissionDenied, 404: NotFound,
    409: Conflict, 413: TooLarge, 422: InvalidRequest, 503: ServiceUnavailable}

BY_CODE: dict[str, type[DropOnError]] = {
    "token_expired": TokenExpired, "token_not_yet_valid": TokenNotYetValid,
    "token_lifetime_too_long": TokenLifetimeTooLong, "wrong_room": WrongRoom,
    "banned": Banned, "not_a_host": NotAHost, "cannot_kick_host": CannotKickHost,
    "room_not_found": RoomNotFound, "version_not_found": VersionNotFound,
    "participant_not_found": ParticipantNotFound,
    "destination_not_found": DestinationNotFound, "recording_not_found": RecordingNotFound,
    "webhook_not_found": WebhookNotFound, "room_full": RoomFull,
    "waiting_room_full": WaitingRoomFull, "room_closed": RoomClosed,
    "already_joined": AlreadyJoined, "host_required": HostRequired, "not_sfu": NotSfu,
    "recording_in_progress": RecordingInProgress,
    "invalid_recording_state": InvalidRecordingState, "invalid_policy": InvalidPolicy,
    "webhook_url_not_allowed": WebhookUrlNotAllowed, "no_media_node": NoMediaNode,
    "store_unavailable": StoreUnavailable, "webhooks_not_configured": WebhooksNotConfigured}


def error_for(status: int | None, body: Any, retry_after: float | None = None) -> DropOnError:
    """The typed error for an API answer: ``body`` is the response's JSON (or anything)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": f"http_{status}", "message": f"HTTP {status} without an error body"}
    code = str(error.get("code") or f"http_{status}")
    cls = BY_CODE.get(code) or BY_STATUS.get(status or 0, DropOnError)
    return cls(str(error.get("message") or code), code=code, status=status, body=error,
               retry_after=retry_after)
