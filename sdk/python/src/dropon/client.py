"""The synchronous client: ``httpx.Client`` for the API, ``websockets``' sync client for
the room socket."""
from __future__ import annotations

import itertools
import time
from typing import Iterator

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

from ._base import ClientBase
from ._socket import JoinHandshake, close_of, socket_closed_error, socket_url
from ._transport import Spec, request_args, result
from .errors import ConnectionFailed, DropOnError, NoMediaNode, NotSfu
from .models import Event, JoinedCall

SOCKET_ERRORS = (OSError, InvalidHandshake, InvalidURI)


class Client(ClientBase):
    """DropOnAir's API for a server: rooms, tokens, joins, stage and host controls,
    recordings, webhooks and the live events of a room. Signs its own admin tokens.

    >>> client = dropon.Client("http://127.0.0.1:8000", api_key=KEY, api_secret=SECRET,
    ...                        ws_url="ws://127.0.0.1:8001")
    >>> room = client.create_room(policy={"stageMode": True, "mediaMode": "SFU"})

    Use it as a context manager, or call :meth:`close`, to release its connections.
    Every parameter is :class:`ClientBase`'s; ``transport`` is an ``httpx`` transport
    (tests pass ``httpx.MockTransport``).
    """

    def __init__(self, api_url: str, *, transport: httpx.BaseTransport | None = None,
                 **settings):
        super().__init__(api_url, **settings)
        self._http = httpx.Client(base_url=self.api_url, timeout=self.timeout,
                                  transport=transport)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, spec: Spec):
        for attempt in itertools.count():
            try:
                response = self._http.request(**request_args(spec, self._tokens))
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"{spec.method} {spec.path}: {exc}") from None
            delay = self._retry.delay(attempt, response.status_code, response.headers)
            if delay is None:
                return result(spec, response.status_code, response.headers, response.content)
            time.sleep(delay)

    def _pages(self, page) -> Iterator:
        cursor = None
        while True:
            items, cursor = self._send(page(cursor))
            yield from items
            if not cursor or not items:
                return

    def join_room(self, room_id: str, token: str, *, wait_for_admission: bool = False,
                  timeout: float = 30.0) -> JoinedCall:
        """Join as the participant ``token`` names, over the room's socket.

        Returns a :class:`JoinedCall` whose ``call_id`` is the one ``GROUP_CALL_JOINED``
        carried, with the ``participant_id`` and, in an SFU room, the ``media`` grant.
        In a waiting room the call is ``status="waiting"`` (no ``call_id`` yet) unless
        ``wait_for_admission``: then this waits (``timeout`` seconds a message) for the
        host's admission, or raises ``denied``. The socket closes once joined; follow the
        room with :meth:`events`.

        :raises RoomFull, Banned, HostRequired, TokenExpired, RoomClosed: ...
        """
        handshake = JoinHandshake(wait_for_admission)
        url = socket_url(self._socket_base(), room_id, token)
        try:
            with connect(url, open_timeout=timeout) as ws:
                ws.send(handshake.command())
                while not handshake.feed(ws.recv(timeout=timeout)):
                    pass
        except ConnectionClosed as exc:
            raise socket_closed_error(room_id, *close_of(exc)) from None
        except SOCKET_ERRORS as exc:
            raise ConnectionFailed(f"room {room_id}: the socket failed: {exc}") from None
        media = None
        if handshake.admitted:  # an admitted session asks for its grant
            try:
                media = self.media_grant(room_id, token).raw
            except (NotSfu, NoMediaNode):
                pass
        return self._joined(handshake, token, media)

    def events(self, room_id: str, after: int | None = None, *,
               token: str | None = None) -> Iterator[Event]:
        """The room's events as they happen, following its socket, for ever (break out
        of the loop to stop).

        Starts after event ``after`` (every later event first), or from now. A dropped
        socket is reconnected with the last ``seq`` seen, so nothing is missed and no
        event is yielded twice; the admin token is renewed before it expires. Reads
        with ``token`` (a participant's) see what that participant may.

        :raises TokenExpired, Banned, RoomNotFound: a refusal; :class:`ConnectionFailed`
            after ten failed reconnections in a row.
        """
        if after is None:  # "now", as a seq, so that a reconnect has a place to resume
            try:
                after = self.get_room(room_id, token=token).version
            except DropOnError:
                after = None
        follower = self._follower(room_id, after, token)
        while True:
            delay = 0.0
            try:
                with connect(follower.connect_url(), open_timeout=self.timeout) as ws:
                    while not follower.expired():
                        try:
                            text = ws.recv(timeout=follower.recv_timeout())
                        except TimeoutError:
                            continue
                        event = follower.take(text)
                        if event is not None:
                            yield event
            except ConnectionClosed as exc:
                delay = follower.closed(*close_of(exc))
            except SOCKET_ERRORS as exc:
                delay = follower.failed(str(exc))
            time.sleep(delay)
