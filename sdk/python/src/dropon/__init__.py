"""DropOnAir Rooms' Python SDK: :class:`Client` and :class:`AsyncClient` for the HTTP API
and the room events socket, typed errors (:mod:`dropon.errors`), results
(:mod:`dropon.models`) and webhook verification (:func:`dropon.webhooks.verify`).

The seed's four lines::

    client = dropon.Client(api_url, api_key=KEY, api_secret=SECRET, ws_url=ws_url)
    room = client.create_room(policy={"stageMode": True, "mediaMode": "SFU"})
    call = client.join_room(room.id, client.create_token(room.id, "ada", "host").token)
    client.start_sfu_recording(room.id, destination_id)   # call.call_id: GROUP_CALL_JOINED's
"""
from . import errors, models, webhooks
from .aio import AsyncClient
from .client import Client
from .errors import (AlreadyJoined, AuthenticationError, Banned, CannotKickHost, Conflict,
                     ConnectionFailed, DestinationNotFound, DropOnError, HostRequired,
                     InvalidPolicy, InvalidRecordingState, InvalidRequest, NoMediaNode,
                     NotAHost, NotFound, NotSfu, ParticipantNotFound, PermissionDenied,
                     RecordingInProgress, RecordingNotFound, RoomClosed, RoomFull,
                     RoomNotFound, ServiceUnavailable, StoreUnavailable, TokenExpired,
                     TokenLifetimeTooLong, TokenNotYetValid, VersionNotFound, WaitingRoomFull,
                     WebhookNotFound, WebhookUrlNotAllowed, WrongRoom)
from .models import (Destination, Event, JoinedCall, MediaGrant, Recording, RecordingFile,
                     Room, Token, Webhook)

__version__ = "0.1.0"
__all__ = [
    "AsyncClient", "Client", "errors", "models", "webhooks",
    "DropOnError", "ConnectionFailed", "InvalidRequest", "AuthenticationError",
    "PermissionDenied", "NotFound", "Conflict", "ServiceUnavailable", "TokenExpired",
    "TokenNotYetValid", "TokenLifetimeTooLong", "WrongRoom", "Banned", "NotAHost",
    "CannotKickHost", "RoomNotFound", "VersionNotFound", "ParticipantNotFound",
    "DestinationNotFound", "RecordingNotFound", "WebhookNotFound", "RoomFull",
    "WaitingRoomFull", "RoomClosed", "AlreadyJoined", "HostRequired", "NotSfu",
    "RecordingInProgress", "InvalidRecordingState", "InvalidPolicy", "WebhookUrlNotAllowed",
    "NoMediaNode", "StoreUnavailable",
    "Destination", "Event", "JoinedCall", "MediaGrant", "Recording", "RecordingFile", "Room",
    "Token", "Webhook",
]
