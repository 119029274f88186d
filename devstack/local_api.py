"""The control plane's local HTTP server: ``chalice local`` with our edge errors.

``python -m devstack.local_api --host 127.0.0.1 --port 8000`` serves the app as
``chalice local --no-autoreload`` does (one process, no reloader child, stopped by its
pid), through chalice's own Python API, with one difference: requests that chalice's
``LocalGateway`` answers itself (a path that matches no route, an authorizer's refusal)
get the API's error shape ``{"error": {"code", "message"}}`` instead of API Gateway's
``{"message": "Missing Authentication Token"}``, and never echo a request header (chalice
local puts the caller's ``Authorization`` value into that body). The deployed API does
the same through the Gateway Responses in ``infra/``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from http.server import BaseHTTPRequestHandler

from chalice import local
from chalice.cli.factory import CLIFactory
from chalice.deploy.validate import validate_routes

from .process import ROOT

JSON = {"Content-Type": "application/json"}
# what LocalGateway raises itself, as (status -> code); the body never carries its text
GATEWAY_CODES = {401: "unauthorized", 403: "forbidden", 500: "internal_error"}


def error(status: int, code: str, message: str) -> dict:
    """A response in the shape ``LocalGateway.handle_request`` returns."""
    return {"statusCode": status, "headers": dict(JSON), "multiValueHeaders": {},
            "body": json.dumps({"error": {"code": code, "message": message}})}


class EdgeLocalGateway(local.LocalGateway):
    """``LocalGateway`` whose own answers use the API's error shape."""

    def handle_request(self, method, path, headers, body):
        try:
            self._generate_lambda_event(method, path, headers, body)
        except ValueError:
            # the path matches no route: API Gateway's MISSING_AUTHENTICATION_TOKEN
            return error(404, "route_not_found", "no such route")
        try:
            return super().handle_request(method, path, headers, body)
        except local.LocalGatewayException as exc:
            code = GATEWAY_CODES.get(exc.CODE, "internal_error")
            status = exc.CODE if exc.CODE in GATEWAY_CODES else 500
            return error(status, code, code.replace("_", " "))


class EdgeRequestHandler(local.ChaliceRequestHandler):
    """chalice local's request handler, on :class:`EdgeLocalGateway`."""

    def __init__(self, request, client_address, server, app_object, config):
        self.local_gateway = EdgeLocalGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)


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
    return local.LocalDevServer(app, config, host, port, handler_cls=EdgeRequestHandler)


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
    try:
        server.serve_forever()  # SIGTERM ends the process; there is no child to leave behind
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
