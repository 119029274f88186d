"""moto's threaded server on 127.0.0.1 (DynamoDB and S3 for functional tests)."""
from __future__ import annotations

from moto.server import ThreadedMotoServer

from .process import free_port


class MotoServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoServer":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
