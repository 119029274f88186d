"""The web app of ``make run``: ``web/`` over HTTP on 127.0.0.1, plus two local-only routes.

``python -m devstack.web --host 127.0.0.1 --port 8002`` serves:

- ``web/`` (``index.html``, ``app.js``, ``dropon.js`` and its modules) as static files;
- ``GET /config.json``: ``{apiUrl, wsUrl, dev: true}`` from ``DROPON_CONTROL_URL`` and
  ``DROPON_WS_URL``, so the page needs no address written into it;
- ``POST /dev/admin-token``: a fresh admin token (10 min) signed with the development key,
  so that the page's "create a room" form works locally. It exists only in this process,
  which only ``make run`` starts: the deployed API has no such route. A page on another
  origin cannot read it: the route wants an ``X-DropOn-Dev`` header, which makes a
  cross-origin ``fetch`` preflight, and this server answers no preflight.

Stopped by its pid (SIGTERM).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from .process import ROOT

WEB = ROOT / "web"
TOKEN_TTL_SECONDS = 600


class WebAppHandler(SimpleHTTPRequestHandler):
    """Static files from ``web/``, ``/config.json`` and the dev token route."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".css": "text/css", ".html": "text/html"}

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")  # a reload always gets the edited file
        super().end_headers()

    def do_GET(self):
        if self.path.split("?")[0] == "/config.json":
            return self._json(200, {"apiUrl": os.environ.get("DROPON_CONTROL_URL", ""),
                                    "wsUrl": os.environ.get("DROPON_WS_URL", ""), "dev": True})
        return super().do_GET()

    def do_POST(self):
        if self.path != "/dev/admin-token":
            return self._json(404, {"error": {"code": "route_not_found", "message": "no such route"}})
        if self.headers.get("X-DropOn-Dev") != "1":
            return self._json(403, {"error": {"code": "forbidden",
                                              "message": "send X-DropOn-Dev: 1"}})
        from .devkey import admin_token
        return self._json(200, {"token": admin_token(TOKEN_TTL_SECONDS),
                                "expiresIn": TOKEN_TTL_SECONDS})

    def _json(self, status: int, body: dict):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # noqa: A002 - the standard library's name
        sys.stdout.write("%s %s\n" % (self.address_string(), format % args))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args(argv)
    handler = functools.partial(WebAppHandler, directory=str(WEB))
    server = ThreadingHTTPServer((args.host, args.port), handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
