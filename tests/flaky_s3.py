"""An S3 endpoint that fails on purpose: a small HTTP proxy on 127.0.0.1 in front of
moto's S3 server.

It answers ``503 SlowDown`` (as S3 does when it sheds load) to the first ``fail_parts``
``UploadPart`` requests, and to every request while :attr:`FlakyS3Proxy.down` is set;
everything else goes through to moto unchanged. Requests are counted by kind so that a
test can see the retries the node made.
"""
from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate. (flaky proxy)</Message></Error>")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


class FlakyS3Proxy:
    """``with FlakyS3Proxy(moto_url, fail_parts=3) as proxy:`` then use ``proxy.url``.

    :param upstream: moto's S3 endpoint (``http://127.0.0.1:PORT``).
    :param fail_parts: how many ``UploadPart`` requests fail before the store recovers.
    """

    def __init__(self, upstream: str, fail_parts: int = 0) -> None:
        self.upstream = urlsplit(upstream)
        self.fail_parts = fail_parts
        self.down = False
        self.seen: Counter = Counter()  # "part", "part_failed", "other", "other_failed"
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FlakyS3Proxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _fails(self, method: str, path: str) -> bool:
        kind = "part" if method == "PUT" and "partNumber=" in path else "other"
        with self._lock:
            self.seen[kind] += 1
            fail = self.down or (kind == "part" and self.seen["part_failed"] < self.fail_parts)
            if fail:
                self.seen[f"{kind}_failed"] += 1
        return fail

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy._fails(self.command, self.path):
                    self._answer(503, {"Content-Type": "application/xml"}, SLOW_DOWN)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream.hostname,
                                                      proxy.upstream.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    # a HEAD's Content-Length is the object's size: passed on as it is
                    self._answer(response.status, {k: v for k, v in response.getheaders()
                                                   if k.lower() not in HOP_BY_HOP}, data)
                finally:
                    upstream.close()

            def _answer(self, status: int, headers: dict, data: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() != "content-length" or self.command == "HEAD":
                        self.send_header(key, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

            def log_message(self, *args) -> None:
                pass

        return Handler
