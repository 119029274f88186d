"""What :class:`dropon.Client` and :class:`dropon.AsyncClient` share: configuration, the
admin tokens, and every API call (``RoomCalls``, ``RecordingCalls``)."""
from __future__ import annotations

import os
from typing import Mapping

from ._recordings import RecordingCalls
from ._rooms import RoomCalls
from ._socket import Follower, JoinHandshake
from ._transport import ADMIN_TOKEN_TTL, AdminTokens, Retry
from .models import JoinedCall

ENV = {"api_url": "DROPON_API_URL", "api_key": "DROPON_API_KEY",
       "api_secret": "DROPON_API_SECRET", "ws_url": "DROPON_WS_URL"}


class ClientBase(RoomCalls, RecordingCalls):
    """Configuration shared by both clients.

    :param api_url: the HTTP API, e.g. ``http://127.0.0.1:8000`` (``make run``'s).
    :param api_key: the API key id, the ``iss`` of the admin tokens the client signs.
    :param api_secret: the API secret the admin tokens are signed with (HS256).
    :param ws_url: the room events socket, e.g. ``ws://127.0.0.1:8001``; needed by
        :meth:`join_room` and :meth:`events`.
    :param retries: how many times a 503 answer is retried (nothing else is).
    :param token_ttl: the life of the admin tokens the client signs, in seconds.
    """

    def __init__(self, api_url: str, *, api_key: str | None = None,
                 api_secret: str | None = None, ws_url: str | None = None,
                 retries: int = 3, backoff: float = 0.5, timeout: float = 30.0,
                 token_ttl: int = ADMIN_TOKEN_TTL):
        if not api_url:
            raise ValueError("api_url is required (DROPON_API_URL)")
        self.api_url, self.ws_url, self.timeout = api_url.rstrip("/"), ws_url, timeout
        self._tokens = AdminTokens(api_key, api_secret, token_ttl)
        self._retry = Retry(attempts=retries, backoff=backoff)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides):
        """A client configured from ``DROPON_API_URL``, ``DROPON_API_KEY``,
        ``DROPON_API_SECRET`` and ``DROPON_WS_URL`` (what ``make run`` prints), with
        keyword ``overrides`` taking precedence."""
        settings = {name: environ.get(var) for name, var in ENV.items()}
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return cls(settings.pop("api_url"), **settings)

    def admin_token(self, ttl: int | None = None) -> str:
        """A fresh admin JWT signed with the API secret, for calls the SDK does not wrap
        (``ttl`` seconds, at most 3600)."""
        return self._tokens.mint(ttl)

    def _socket_base(self) -> str:
        if not self.ws_url:
            raise ValueError("the room socket needs ws_url (DROPON_WS_URL; make run prints it)")
        return self.ws_url

    def _follower(self, room_id: str, after: int | None, token: str | None) -> Follower:
        if token:
            return Follower(room_id, self._socket_base(), lambda: token, after, renewable=False)
        return Follower(room_id, self._socket_base(), self._tokens.current, after)

    @staticmethod
    def _joined(handshake: JoinHandshake, token: str, media=None) -> JoinedCall:
        return JoinedCall.from_join(handshake.answer, token, handshake.event, media)
