"""The REST API's routes in the built template against the app's, and the one route a
caller without a token may use: ``GET /health`` (load balancers and uptime checks have
no token). Every other route and method, called with no ``Authorization``, answers 401
(the app checks tokens itself; API Gateway has no authorizer)."""
from __future__ import annotations

import json
import re
from uuid import uuid4

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.application import RoomsApplication
from chalicelib.config import Settings
from chalicelib.persistence.nodes import InMemoryNodeRegistry
from tests.integration.test_infra import built  # noqa: F401 - the module's fixture

OPEN = {("/health", "GET")}


def app_routes() -> set[tuple[str, str]]:
    from app import app
    return {(path, method) for path, entry in app.routes.items() for method in entry}


def test_the_template_serves_exactly_the_apps_routes_health_included(built):  # noqa: F811
    sam = json.loads((built / "sam.json").read_text())
    paths = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    served = {(path, method.upper()) for path, ops in paths.items() for method in ops
              if method != "options"}  # CORS preflights, answered by API Gateway
    assert served == app_routes() and OPEN <= served
    health = paths["/health"]["get"]["x-amazon-apigateway-integration"]
    assert health["type"] == "aws_proxy" and "APIHandler" in health["uri"]["Fn::Sub"]
    assert "security" not in paths["/health"]["get"]  # no authorizer on any route
    assert not [p for p, ops in paths.items() for o in ops.values() if "security" in o]


@pytest.fixture
def client():
    from app import app
    application = RoomsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    bootstrap.configure(settings=Settings(api_keys={"k": "s" * 32}, node_secret="n" * 32),
                        application=application, node_registry=InMemoryNodeRegistry())
    with Client(app, project_dir="/nonexistent") as c:
        yield c
    bootstrap.reset()
    application.close()


def test_every_route_but_health_wants_a_token(client):
    refused = {}
    for path, method in sorted(app_routes()):
        url = re.sub(r"\{identity\}", "ann", path)
        url = re.sub(r"\{[^}]+\}", lambda m: str(uuid4()), url)
        answer = client.http.request(method, url, body=b"{}",
                                     headers={"Content-Type": "application/json"})
        refused[(path, method)] = answer.status_code
    assert {r for r, status in refused.items() if status != 401} == OPEN, refused
    assert client.http.get("/health").status_code == 200
