"""The asynchronous client: the same calls as :class:`dropon.Client`, awaited;
``httpx.AsyncClient`` for the API, ``websockets``' asyncio client for the room socket."""
from __future__ import annotations

import asyncio
import itertools
from typing import AsyncIterator

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ._base import ClientBase
from ._socket import JoinHandshake, close_of, socket_closed_error, socket_url
from ._transport import Spec, request_args, result
from .client import SOCKET_ERRORS
from .errors import ConnectionFailed, DropOnError, NoMediaNode, NotSfu
from .models import Event, JoinedCall


class AsyncClient(ClientBase):
    """:class:`dropon.Client`'s surface with ``async``/``await``: every call is awaited,
    ``list_rooms`` and ``events`` are iterated with ``async for``.

    >>> async with dropon.AsyncClient(API, api_key=KEY, api_secret=SECRET, ws_url=WS) as c:
    ...     room = await c.create_room(policy={"mediaMode": "SFU"})
    """

    def __init__(self, api_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 **settings):
        super().__init__(api_url, **settings)
        self._http = httpx.AsyncClient(base_url=self.api_url, timeout=self.timeout,
                                       transport=transport)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def _send(self, spec: Spec):
        for attempt in itertools.count():
            try:
                response = await self._http.request(**request_args(spec, self._tokens))
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"{spec.method} {spec.path}: {exc}") from None
            delay = self._retry.delay(attempt, response.status_code, response.headers)
            if delay is None:
                return result(spec, response.status_code, response.headers, response.content)
            await asyncio.sleep(delay)

    async def _pages(self, page) -> AsyncIterator:
        cursor = None
        while True:
            items, cursor = await self._send(page(cursor))
            for item in items:
                yield item
            if not cursor or not items:
                return

    async def join_room(self, room_id: str, token: str, *, wait_for_admission: bool = False,
                        timeout: float = 30.0) -> JoinedCall:
        """:meth:`dropon.Client.join_room`, awaited."""
        handshake = JoinHandshake(wait_for_admission)
        url = socket_url(self._socket_base(), room_id, token)
        try:
            async with connect(url, open_timeout=timeout) as ws:
                await ws.send(handshake.command())
                while not handshake.feed(await asyncio.wait_for(ws.recv(), timeout)):
                    pass
        except ConnectionClosed as exc:
            raise socket_closed_error(room_id, *close_of(exc)) from None
        except SOCKET_ERRORS as exc:
            raise ConnectionFailed(f"room {room_id}: the socket failed: {exc}") from None
        media = None
        if handshake.admitted:
            try:
                media = (await self.media_grant(room_id, token)).raw
            except (NotSfu, NoMediaNode):
                pass
        return self._joined(handshake, token, media)

    async def events(self, room_id: str, after: int | None = None, *,
                     token: str | None = None) -> AsyncIterator[Event]:
        """:meth:`dropon.Client.events` with ``async for``: resumes across dropped
        sockets, never yields an event twice."""
        if after is None:
            try:
                after = (await self.get_room(room_id, token=token)).version
            except DropOnError:
                after = None
        follower = self._follower(room_id, after, token)
        while True:
            delay = 0.0
            try:
                async with connect(follower.connect_url(), open_timeout=self.timeout) as ws:
                    while not follower.expired():
                        try:
                            text = await asyncio.wait_for(ws.recv(), follower.recv_timeout())
                        except asyncio.TimeoutError:
                            continue
                        event = follower.take(text)
                        if event is not None:
                            yield event
            except ConnectionClosed as exc:
                delay = follower.closed(*close_of(exc))
            except SOCKET_ERRORS as exc:
                delay = follower.failed(str(exc))
            await asyncio.sleep(delay)
