"""The control plane's local HTTP server: ``chalice local`` with our edge errors.

``python -m devstack.local_api --host 127.0.0.1 --port 8000`` serves the app as
``chalice local --no-autoreload`` does (one process, no reloader child, stopped by its
pid), through chalice's own Python API, with these differences:

- requests that chalice's ``LocalGateway`` answers itself (a path that matches no route,
  an authorizer's refusal) get the API's error shape ``{"error": {"code", "message"}}``
  instead of API Gateway's ``{"message": "Missing Authentication Token"}``, and never echo
  a request header (chalice local puts the caller's ``Authorization`` value into that
  body). The deployed API does the same through the Gateway Responses in ``infra/``;
- every method reaches the app (``TRACE``, ``CONNECT``, ``FOO``: 405 ``method_not_allowed``
  on a route's path, 404 ``route_not_found`` elsewhere) instead of the standard library's
  501 HTML page, and what the HTTP parser itself refuses (a malformed request line, a
  URI over 64 KiB) is JSON too;
- ``HEAD`` is ``GET`` without the body (chalice local wrote a body after a HEAD answer,
  which desynchronises a kept-alive connection);
- a listen backlog of ``BACKLOG`` (the standard library's is 5: a burst of 256 connections
  timed out waiting to be accepted) and one daemon thread per connection.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

from chalice import local
from chalice.cli.factory import CLIFactory
from chalice.deploy.validate import validate_routes

from chalicelib.api.errors import error_body

from .process import ROOT

JSON = {"Content-Type": "application/json"}
access_log = logging.getLogger("devstack.local_api.access")
# what LocalGateway raises itself, as (status -> code); the body never carries its text
GATEWAY_CODES = {401: "unauthorized", 403: "forbidden", 500: "internal_error"}
# what the standard library's HTTP parser refuses before any route is looked at
PARSER_CODES = {400: "invalid_request", 408: "timeout", 414: "uri_too_long",
                431: "headers_too_large", 505: "http_version_not_supported"}
# Connections wait in the kernel's accept queue (capped by net.core.somaxconn) until the
# accept loop takes them; a full queue makes the kernel drop or reset new ones.
BACKLOG = 1024
IDLE_SECONDS = 60  # a kept-alive connection silent this long is closed (as an ALB does)


def error(status: int, code: str, message: str) -> dict:
    """A response in the shape ``LocalGateway.handle_request`` returns."""
    return {"statusCode": status, "headers": dict(JSON), "multiValueHeaders": {},
            "body": json.dumps(error_body(code, message))}


class EdgeLocalGateway(local.LocalGateway):
    """``LocalGateway`` whose own answers use the API's error shape."""

    def handle_request(self, method, path, headers, body):
        try:
            event = self._generate_lambda_event(method, path, headers, body)
        except ValueError:
            # the path matches no route: API Gateway's MISSING_AUTHENTICATION_TOKEN
            return error(404, "route_not_found", "no such route")
        resource = self._app_object.routes[event["requestContext"]["resourcePath"]]
        if method == "HEAD" and "GET" in resource:
            method = "GET"  # EdgeRequestHandler sends the answer's headers only
        try:
            return super().handle_request(method, path, headers, body)
        except local.LocalGatewayException as exc:
            code = GATEWAY_CODES.get(exc.CODE, "internal_error")
            status = exc.CODE if exc.CODE in GATEWAY_CODES else 500
            return error(status, code, code.replace("_", " "))


class EdgeRequestHandler(local.ChaliceRequestHandler):
    """chalice local's request handler, on :class:`EdgeLocalGateway`, for every method."""

    timeout = IDLE_SECONDS

    def __init__(self, request, client_address, server, app_object, config):
        self.local_gateway = EdgeLocalGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def log_message(self, format, *args):  # noqa: A002 - the standard library's name
        # the access line goes through logging, so it is JSON like every other line
        access_log.info(format, *args)

    def __getattr__(self, name: str):
        # BaseHTTPRequestHandler answers a method without a do_<METHOD> with a 501 HTML
        # page; here the gateway and the app decide (405 or 404, in the error shape)
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def _send_http_response_with_body(self, code, headers, body):
        if self.command != "HEAD":
            return super()._send_http_response_with_body(code, headers, body)
        # the headers a GET would get, Content-Length included, and no body
        size = len(body if isinstance(body, bytes) else body.encode("utf-8"))
        self.send_response(code)
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)

    def send_error(self, code, message=None, explain=None):
        """What the HTTP parser refuses, in the error shape (the stdlib sends HTML)."""
        status = HTTPStatus(code)
        self.log_error("code %d, message %s", code, message or status.phrase)
        payload = json.dumps(error_body(
            PARSER_CODES.get(code, status.phrase.lower().replace(" ", "_").replace("-", "_")),
            status.phrase)).encode()
        # a line the parser refused leaves the version at HTTP/0.9, which has no status line
        self.request_version = self.protocol_version
        self.send_response(code)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class EdgeHTTPServer(local.ThreadedHTTPServer):
    """chalice local's server with a listen backlog for bursts.

    One daemon thread per connection, as chalice local and ``ThreadingHTTPServer``: a
    kept-alive connection or a long poll (``wait`` up to 20 s) holds its thread, so a
    bounded pool would let that many idle clients starve the rest. Threads cost memory
    only while their connection is open; ``IDLE_SECONDS`` closes idle ones.
    """

    request_queue_size = BACKLOG
    daemon_threads = True

    def handle_error(self, request, client_address):
        # socketserver prints a traceback to stderr; here it is one JSON log line, and a
        # caller gone mid-answer (a node stopped during its long poll) is no error
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError)):
            access_log.info("client %s:%s went away before its answer", *client_address[:2])
        else:
            access_log.error("request from %s:%s failed", *client_address[:2], exc_info=True)


def create_server(host: str, port: int, stage: str = "dev",
                  project_dir: str = str(ROOT)) -> local.LocalDevServer:
    """What ``chalice local --no-autoreload`` builds, with :class:`EdgeRequestHandler`."""
    factory = CLIFactory(project_dir=project_dir, environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app
    validate_routes(app.routes)
    # as chalice.local.create_local_server: a per-thread current_request
    local.CustomLocalChalice.__bases__ = (local.LocalChalice, app.__class__)
    app.__class__ = local.CustomLocalChalice
    return local.LocalDevServer(app, config, host, port, handler_cls=EdgeRequestHandler,
                                server_cls=EdgeHTTPServer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    os.environ["AWS_CHALICE_CLI_MODE"] = "true"  # as the chalice CLI sets it
    # chalice local logs to stdout the way Lambda does
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    server = create_server(args.host, args.port, args.stage)
    logging.getLogger("devstack.local_api").info("serving on http://%s:%s", args.host, args.port)
    try:
        server.server.serve_forever()  # SIGTERM ends the process; no child is left behind
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
