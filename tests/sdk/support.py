"""Helpers of the SDK's tests: a room's socket read by hand (to check the SDK against the
wire), waiting for a condition, and an aiortc publisher on its own loop."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from urllib.parse import urlencode

from websockets.sync.client import connect

TIMEOUT = 60  # a safety net against a hang, never a measurement


def wait_until(predicate, what: str, timeout: float = TIMEOUT, interval: float = 0.2):
    """Poll ``predicate`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


@contextmanager
def raw_socket(ws_url: str, room_id: str, token: str, after: int | None = None):
    """The room socket with ``websockets``' own client; yields a function reading the next
    message (a dict)."""
    query = {"roomId": room_id, "token": token, **({} if after is None else {"after": after})}
    with connect(f"{ws_url}/?{urlencode(query)}", open_timeout=TIMEOUT) as ws:
        yield lambda: json.loads(ws.recv(timeout=TIMEOUT))


def until(read, kind: str) -> dict:
    """Messages from ``read`` up to the first of type ``kind``."""
    while (message := read())["type"] != kind:
        pass
    return message


def wait_for_node(client) -> dict:
    """The stack's media node once its heartbeat made it healthy."""
    return wait_until(lambda: next((n for n in client.list_nodes() if n["healthy"]), None),
                      "a healthy media node")


class DroppingProxy:
    """A TCP proxy on 127.0.0.1 in front of ``port`` whose :meth:`drop` cuts every open
    connection, as a network blip would; new connections go through again."""

    def __init__(self, port: int):
        import socket
        import threading
        self.target, self.accepted, self.live = port, 0, []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading
        while True:
            try:
                inbound, _ = self.server.accept()
            except OSError:
                return
            outbound = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.accepted += 1
                self.live += [inbound, outbound]
            for a, b in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.close()
            except OSError:
                pass

    def drop(self) -> None:
        """Cut every connection now open."""
        import socket
        with self.lock:
            live, self.live = self.live, []
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.server.close()
        self.drop()
