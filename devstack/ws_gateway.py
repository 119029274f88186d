"""The real-time socket locally: what API Gateway's WebSocket API and the events table's
stream do when deployed, for ``app.py``'s own handlers (``chalice local`` serves neither).

``python -m devstack.ws_gateway --host 127.0.0.1 --port 8001`` serves WebSockets (the
``websockets`` library). Each socket becomes API Gateway's ``$connect``, ``$default``
and ``$disconnect`` events for the handlers ``app.py`` registered. ``$connect`` runs before the
handshake completes, as API Gateway runs it; a refused one (status 4xx) closes the socket
right after the handshake with ``4000 + status`` and the error as the reason.
``post_to_connection`` writes to the socket (``LocalConnections`` stands in for
Chalice's ``apigatewaymanagementapi`` client). The stream poller
(``devstack/stream_poller.py``) runs in this process, so the stream handler's posts
reach the sockets. Stopped by its pid (SIGTERM).
"""
from __future__ import annotations

import argparse
import asyncio
import faulthandler
import importlib
import json
import logging
import signal
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

log = logging.getLogger("ws_gateway")
STAGE = "local"


class GoneException(Exception):
    """As ``apigatewaymanagementapi`` raises for a socket that is closed."""


class LocalConnections:
    """``post_to_connection`` on this process's sockets, thread-safe; the client
    Chalice's ``WebsocketAPI.send`` calls."""

    class exceptions:  # noqa: N801 - botocore's shape: client.exceptions.GoneException
        GoneException = GoneException

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queues: dict[str, asyncio.Queue] = {}

    def post_to_connection(self, ConnectionId: str, Data) -> None:  # noqa: N803 - boto3's names
        queue = self.queues.get(ConnectionId)
        if queue is None:
            raise GoneException(ConnectionId)
        text = Data.decode() if isinstance(Data, bytes) else Data
        # FIFO from any thread: the order of posts is the order on the socket
        self.loop.call_soon_threadsafe(queue.put_nowait, text)


class Gateway:
    """Sockets mapped to the Chalice app's WebSocket handlers."""

    def __init__(self, module, host: str, port: int, loop: asyncio.AbstractEventLoop):
        self.module, self.app = module, module.app
        self.domain = f"{host}:{port}"
        self.connections = LocalConnections(loop)
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ws-handler")
        api = self.app.websocket_api
        api._client = self.connections  # what configure() + session would build when deployed
        api._endpoint = f"http://{self.domain}"
        self.handlers = {route: handler(module, config)
                         for route, config in self.app.websocket_handlers.items()}

    def event(self, route: str, connection_id: str, body: str | None = None,
              query: dict | None = None) -> dict:
        """The API Gateway WebSocket event Chalice expects for ``route``."""
        kind = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
        return {"requestContext": {"routeKey": route, "eventType": kind,
                                   "connectionId": connection_id, "domainName": self.domain,
                                   "stage": STAGE, "apiId": "local",
                                   "requestId": uuid.uuid4().hex},
                "queryStringParameters": query, "body": body, "isBase64Encoded": False}

    async def call(self, route: str, connection_id: str, **kw):
        loop = asyncio.get_running_loop()
        event = self.event(route, connection_id, **kw)
        return await loop.run_in_executor(self.pool, self.handlers[route], event, None)

    async def connect(self, socket, request) -> None:
        """``$connect`` before the handshake completes, as API Gateway runs it: once a
        client is connected, its socket is recorded and every later event reaches it."""
        socket.connection_id = uuid.uuid4().hex
        # posts may come as soon as $connect has recorded the socket
        self.connections.queues[socket.connection_id] = asyncio.Queue()
        query = dict(parse_qsl(urlsplit(request.path).query)) or None
        socket.connect_answer = await self.call("$connect", socket.connection_id, query=query)
        return None  # go on with the handshake; a refusal closes with its code right after

    async def serve_socket(self, socket) -> None:
        connection_id = socket.connection_id
        queue = self.connections.queues[connection_id]
        try:
            status = int(socket.connect_answer.get("statusCode", 500))
            if status != 200:
                await socket.close(*refusal(status, socket.connect_answer.get("body")))
                return
            writer = asyncio.create_task(self.write(socket, queue))
            try:
                await self.resume(connection_id)
                async for text in socket:
                    await self.call("$default", connection_id, body=text)
            except ConnectionClosed:
                pass
            finally:
                writer.cancel()
                await self.call("$disconnect", connection_id)
        finally:
            self.connections.queues.pop(connection_id, None)

    async def resume(self, connection_id: str) -> None:
        """The catch-up a deployed client asks for with ``{"action": "resume"}``."""
        from chalicelib import bootstrap
        from chalicelib.api import websocket
        reader = bootstrap.sockets().reader(connection_id)
        post = websocket.sender(self.app.websocket_api)
        await asyncio.get_running_loop().run_in_executor(
            self.pool, lambda: bootstrap.sockets().deliver(
                reader.room_id, post, websocket.to_json, only=connection_id))

    @staticmethod
    async def write(socket, queue: asyncio.Queue) -> None:
        while True:
            await socket.send(await queue.get())


def handler(module, config):
    """The Lambda entry point Chalice made of a handler's registration (``app.<name>``)."""
    return getattr(module, config.handler_string.rsplit(".", 1)[-1])


def refusal(status: int, body: str | None) -> tuple[int, str]:
    """Close code and reason of a refused ``$connect``: ``4000 + status`` for a 4xx."""
    try:
        error = json.loads(body or "{}")["error"]
        reason = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        reason = "refused"
    code = 4000 + status if 400 <= status < 500 else 1011
    return code, reason.encode()[:120].decode(errors="ignore")


async def main_async(host: str, port: int, poll: bool) -> None:
    loop = asyncio.get_running_loop()
    module = importlib.import_module("app")
    gateway = Gateway(module, host, port, loop)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    poller = None
    if poll:
        from .stream_poller import StreamPoller
        poller = StreamPoller.for_app(module)
        threading.Thread(target=poller.run, name="stream-poller", daemon=True).start()
    # $connect runs inside the handshake: give a burst of them time (API Gateway: 29 s)
    async with serve(gateway.serve_socket, host, port, process_request=gateway.connect,
                     open_timeout=60):
        print(f"WebSocket gateway on ws://{host}:{port}", flush=True)
        await stop.wait()
    if poller is not None:
        poller.stop()
    gateway.pool.shutdown(wait=False, cancel_futures=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--no-stream", action="store_true", help="do not poll the stream")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: every thread's stack to the log
    asyncio.run(main_async(args.host, args.port, not args.no_stream))


if __name__ == "__main__":
    main()
