"""``make package`` for real, and the template it writes, checked against the code.

The template is built offline (chalice package; no AWS account here), linted with
cfn-lint (resource schemas; the SAM transform itself is not run: aws-sam-translator
conflicts with the project's pydantic pin), and compared with what the code does on
moto: the tables it creates under ``CREATE_TABLE`` and the DynamoDB operations it
performs without it, each of which the template's IAM policy must allow.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import boto3
import botocore.client
import pytest

from chalicelib.application.deliverer import WebhookDeliverer
from chalicelib.config import WebhookSettings

from devstack.process import ROOT
from tests.integration.api_support import store_env, table_names

SECRET_VARIABLES = ("DROPON_API_SECRET", "DROPON_NODE_SECRET", "DROPON_WEBHOOK_KEY")
WEBHOOK_KEY = "x" * 43 + "="  # a well-formed Fernet key, for building the webhooks' store
WEBHOOK_TABLES = {"WebhooksEventsTable", "WebhooksSnapshotsTable",
                  "WebhooksNotificationsTable", "WebhooksTrackingTable"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("package") / "out"
    run = subprocess.run(["make", "-s", "package", f"PACKAGE_ARGS=--out {out}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


@pytest.fixture(scope="module")
def template(built):
    return json.loads((built / "sam.json").read_text())


def tables_of(template) -> dict:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"}


def table_name(resource, prefix: str) -> str:
    return resource["Properties"]["TableName"]["Fn::Sub"].replace("${TablePrefix}", prefix)


def test_cfn_lint_accepts_every_template(built):
    """chalice's SAM output, the media nodes' and the observability stack's, with no
    error, warning or informational finding (exit status 0)."""
    from infra.package import STACKS
    templates = [str(built / name) for name, _ in STACKS]
    assert sorted(p.name for p in built.glob("*.json")) == sorted(n for n, _ in STACKS)
    run = subprocess.run([str(ROOT / ".venv/bin/cfn-lint"), *templates],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr


def build_webhooks(env):
    from chalicelib.bootstrap import build_webhooks
    from chalicelib.config import WebhookSettings
    return build_webhooks(env, WebhookSettings(key=WEBHOOK_KEY, allow_private=True))


def test_tables_match_what_the_code_creates(template, dynamodb_endpoint):
    from chalicelib.bootstrap import (build_application, build_connections,
                                      build_destination_store, build_node_registry)
    env = store_env(dynamodb_endpoint, DROPON_SNAPSHOT_INTERVAL="2")
    prefix = env["DYNAMODB_TABLE_PREFIX"]
    build_application(env)
    build_node_registry(env)
    build_destination_store(env)
    build_webhooks(env)
    build_connections(env)
    client = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint, region_name="us-east-1")
    created = {n for n in table_names(client) if n.startswith(prefix + "-")}
    declared = {table_name(r, prefix): r for r in tables_of(template).values()}
    assert created == set(declared)
    for name, resource in declared.items():
        actual = client.describe_table(TableName=name)["Table"]
        props = resource["Properties"]
        assert props["KeySchema"] == actual["KeySchema"]  # HASH first, as pynamodb sends it
        assert pairs(props["AttributeDefinitions"]) == pairs(actual["AttributeDefinitions"])
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        expected_ttl = ({"AttributeName": ttl["AttributeName"], "Enabled": True}
                        if ttl["TimeToLiveStatus"] == "ENABLED" else None)
        assert props.get("TimeToLiveSpecification") == expected_ttl  # only sockets expire
        assert ({i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])}
                == {i["IndexName"] for i in actual.get("GlobalSecondaryIndexes", [])})
        assert resource["DeletionPolicy"] == "Retain"
        stream = actual.get("StreamSpecification", {"StreamEnabled": False})
        assert (props.get("StreamSpecification", {}).get("StreamViewType")
                == (stream["StreamViewType"] if stream["StreamEnabled"] else None))


def pairs(definitions: list[dict]) -> set[tuple]:
    return {(d["AttributeName"], d["AttributeType"]) for d in definitions}


def policy_statements(template, role: str) -> list[dict]:
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def granted(template, role: str) -> dict[str, set[str]]:
    """Table logical id -> DynamoDB actions the role may perform on it; an action on the
    table's indexes is ``<action>@index``."""
    out: dict[str, set[str]] = {}
    for s in policy_statements(template, role):
        if not any(a.startswith("dynamodb:") for a in s["Action"]):
            continue
        for r in s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]:
            if isinstance(r, dict) and "Fn::GetAtt" in r:
                out.setdefault(r["Fn::GetAtt"][0], set()).update(s["Action"])
            elif isinstance(r, dict) and r.get("Fn::Sub", "").endswith(".Arn}/index/*"):
                table = r["Fn::Sub"][2:].split(".", 1)[0]
                out.setdefault(table, set()).update(f"{a}@index" for a in s["Action"])
    return out


def test_iam_is_scoped_to_the_tables(template):
    tables = set(tables_of(template))
    functions = template["Resources"]
    assert functions["APIHandler"]["Properties"]["Role"] == {"Fn::GetAtt": ["DefaultRole", "Arn"]}
    assert functions["Tick"]["Properties"]["Role"] == {"Fn::GetAtt": ["TickRole", "Arn"]}
    assert functions["DeliverWebhooks"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["DeliverWebhooksRole", "Arn"]}
    for role in ("DefaultRole", "StreamRole", "TickRole", "DeliverWebhooksRole"):
        for s in policy_statements(template, role):
            assert s["Effect"] == "Allow"
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            assert all("*" not in a for a in actions), s
            assert all(a.startswith(("dynamodb:", "logs:")) for a in actions
                       ) or actions in (["execute-api:ManageConnections"], ["kms:Encrypt"],
                                        ["sts:AssumeRole"]), s
            if actions == ["kms:Encrypt"]:  # sealing destinations' secrets, nothing else
                assert role == "DefaultRole"
                assert s["Resource"] == [{"Fn::GetAtt": ["DestinationSecretsKey", "Arn"]}]
            elif actions == ["sts:AssumeRole"]:  # a destination's role, with its external id
                assert role == "DefaultRole"
                assert s["Condition"] == {"Null": {"sts:ExternalId": "false"}}
            elif actions == ["execute-api:ManageConnections"]:  # posting to the sockets
                assert role in ("DefaultRole", "StreamRole")
                assert s["Resource"][0]["Fn::Sub"].endswith(":${WebsocketAPI}/*"), s
            elif any(a.startswith("dynamodb:") for a in actions):
                assert all(r["Fn::GetAtt"][0] in tables if "Fn::GetAtt" in r
                           else r["Fn::Sub"] == "${ConnectionsTable.Arn}/index/*"
                           for r in s["Resource"]), s
            else:  # only the log groups of the role's own functions
                own = {f"{name}LogGroup" for name, r in functions.items()
                       if r["Type"] == "AWS::Serverless::Function"
                       and r["Properties"]["Role"]["Fn::GetAtt"][0] == role}
                assert {r["Fn::GetAtt"][0] for r in s["Resource"]} == own, s
                assert "logs:CreateLogGroup" not in actions  # the stack creates them
    assert set(granted(template, "DefaultRole")) == tables - {"WebhooksTrackingTable"}
    assert set(granted(template, "TickRole")) == \
        tables - {"DestinationsTable", "ConnectionsTable"} - WEBHOOK_TABLES
    deliverer = granted(template, "DeliverWebhooksRole")
    assert set(deliverer) == WEBHOOK_TABLES | {"NotificationsTable"}
    assert deliverer["NotificationsTable"] == {"dynamodb:Query"}  # the rooms' log: read only
    for name in ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect"):
        assert functions[name]["Properties"]["Role"] == {"Fn::GetAtt": ["DefaultRole", "Arn"]}
    # the stream handler reads rooms and moves sockets' cursors, and nothing else
    assert functions["RoomEventsStream"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["StreamRole", "Arn"]}
    assert set(granted(template, "StreamRole")) == {"EventsTable", "SnapshotsTable",
                                                    "ConnectionsTable"}
    stream = functions["RoomEventsStream"]["Properties"]["Events"]
    assert stream["RoomEventsStreamDynamodbEventSource"]["Properties"]["Stream"] == {
        "Fn::GetAtt": ["EventsTable", "StreamArn"]}


# what each DynamoDB call needs in IAM (a transaction needs its items' actions)
ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem"}


@pytest.fixture
def recorded(monkeypatch):
    calls: list[tuple[str, str]] = []  # (table name, IAM action)
    real = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):
        if self.meta.service_model.service_name == "dynamodb":
            if operation == "TransactWriteItems":
                for item in params["TransactItems"]:
                    (kind, body), = item.items()
                    calls.append((body["TableName"], ITEM_ACTIONS[kind]))
            elif operation == "BatchWriteItem":
                calls.extend((table, operation) for table in params["RequestItems"])
            else:
                index = "@index" if params.get("IndexName") else ""  # granted on the index
                calls.append((params.get("TableName", "*"), operation + index))
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return calls


def test_iam_allows_every_call_the_code_makes(template, dynamodb_endpoint, recorded):
    from chalicelib.application.nodes import NodeService
    from chalicelib.application.sockets import SocketService
    from chalicelib.bootstrap import (build_application, build_connections,
                                      build_destination_store, build_node_registry)
    from chalicelib.domain.actor import Actor
    from chalicelib.domain.destinations import Destination
    from chalicelib.domain.nodes import NodeRecord
    env = store_env(dynamodb_endpoint, DROPON_SNAPSHOT_INTERVAL="2")
    # the stack's job in AWS
    build_application(env), build_node_registry(env), build_destination_store(env)
    build_webhooks(env), build_connections(env)
    recorded.clear()
    deployed = {**env, "CREATE_TABLE": "n"}
    rooms, registry = build_application(deployed), build_node_registry(deployed)
    destinations = build_destination_store(deployed)
    destinations.save(Destination("d1", "s3", {"bucket": "b"}, "2026-01-01T00:00:00Z"))
    destinations.get("d1"), destinations.all(), destinations.delete("d1")
    sockets = SocketService(rooms, build_connections(deployed))
    admin = Actor("api_key", "k")
    room = rooms.create_room(admin, name="r", persistent=True)
    joined = rooms.join(Actor("participant", "ann"), room["id"], identity="ann", role="host")
    sockets.connect(Actor("participant", "ann"), room["id"], "c1", after=0, role="host",
                    replace=False, expires=2**31)
    rooms.raise_hand(Actor("participant", "ann"), room["id"])
    sockets.deliver(room["id"], lambda connection_id, text: True, str)
    sockets.reader("c1"), sockets.disconnect("c1")
    rooms.get_room(room["id"], version=1)
    rooms.room_events(room["id"])
    rooms.list_rooms()
    rooms.leave(Actor("participant", "ann"), room["id"], joined["participantId"])
    rooms.tick()
    registry.save(NodeRecord("n1", "http://n", 0, 0, 0, 0.0, 64, 1.0, 1.0))
    registry.get("n1"), registry.all()
    hooks = build_webhooks(deployed)
    hook = hooks.register(admin, url="http://127.0.0.1:9/", events=["*"], rooms=None,
                          now=datetime.now(timezone.utc))
    hooks.list_webhooks(), hooks.get_webhook(hook["webhookId"])
    hooks.deliveries(hook["webhookId"])
    prefix = env["DYNAMODB_TABLE_PREFIX"]
    ids = {table_name(r, prefix): k for k, r in tables_of(template).items()}
    touched = {ids[t] for t, _ in recorded}
    check_role(template, "DefaultRole", recorded, ids)
    # the deliverer, in its own function: follows the rooms' log, queues, sends, records
    recorded.clear()
    deliverer = WebhookDeliverer(build_webhooks(deployed), rooms.notification_log,
                                 Refusing(), WebhookSettings(key=WEBHOOK_KEY),
                                 lambda: datetime.now(timezone.utc))
    with ThreadPoolExecutor(1) as pool:
        deliverer.step(pool)  # leaving the pool waits for the attempt to be recorded
    check_role(template, "DeliverWebhooksRole", recorded, ids)
    touched |= {ids[t] for t, _ in recorded}
    # the stream handler, in its own function: a new event reaches a room's socket
    rooms.join(Actor("participant", "bo"), room["id"], identity="bo", role="host")
    sockets.connect(Actor("participant", "bo"), room["id"], "c2", after=0, role="host",
                    replace=False, expires=2**31)
    rooms.raise_hand(Actor("participant", "bo"), room["id"])
    recorded.clear()
    streamed = SocketService(build_application(deployed), build_connections(deployed))
    assert streamed.deliver(room["id"], lambda connection_id, text: True, str)
    mark = len(recorded)  # another event, written by the API (not the stream's calls)
    rooms.lower_own_hand(Actor("participant", "bo"), room["id"], datetime.now(timezone.utc))
    del recorded[mark:]
    streamed.deliver(room["id"], lambda connection_id, text: False, str)  # a gone socket
    check_role(template, "StreamRole", recorded, ids)
    # the tick, in its own function: the nodes' heartbeats and the rooms' scheduled work
    # (nothing is due here, so it only reads: the reverse check would ask too much)
    recorded.clear()
    NodeService(registry, rooms, 15.0).tick(datetime.now(timezone.utc), 30.0)
    check_role(template, "TickRole", recorded, ids, complete=False)
    assert touched == set(ids.values())  # the scenarios touched every table


class Refusing:
    def send(self, url, body, headers):
        return {"outcome": "refused", "responseCode": None, "latencyMs": None, "error": "test"}


def check_role(template, role: str, recorded, ids, complete: bool = True) -> None:
    allowed = granted(template, role)
    assert recorded and {t for t, _ in recorded} <= set(ids), recorded
    missing = {(t, a) for t, a in recorded if f"dynamodb:{a}" not in allowed.get(ids[t], set())}
    assert not missing, f"{role} lacks {missing}"
    if not complete:
        return
    # nothing granted that is not used: what the scenario did not touch is explained
    used = {(ids[t], f"dynamodb:{a}") for t, a in recorded}
    unused = {(t, a) for t, actions in allowed.items() for a in actions} - used
    assert unused <= used_beyond_the_scenario(role), f"{role} is granted unused {unused}"


def used_beyond_the_scenario(role: str) -> set[tuple[str, str]]:
    """Grants the scenario cannot exercise, each derived from the code: Lambda's event
    source mapping reads the events table's stream with the stream handler's role; a
    snapshot is written every N events (the applications' own intervals)."""
    import app
    from chalice.app import DynamoDBEventConfig
    from chalicelib.application.sockets import ROOM_CURSOR_MAX
    from chalicelib.application.webhooks import WebhooksApplication
    from infra.template import FUNCTIONS, STREAM_ACTIONS, STREAM_FUNCTION
    out = set()
    if any(isinstance(e, DynamoDBEventConfig) for e in app.app.event_sources) \
            and FUNCTIONS[STREAM_FUNCTION][1] == role:
        out |= {("EventsTable", a) for a in STREAM_ACTIONS}
    if WebhooksApplication.snapshotting_intervals:  # every 100 events: not in a short scenario
        out.add(("WebhooksSnapshotsTable", "dynamodb:PutItem"))
    if ROOM_CURSOR_MAX:  # a fan-out to more sockets than that writes each socket's own cursor
        out.add(("ConnectionsTable", "dynamodb:BatchWriteItem"))
    return out


def test_environment_and_secrets(template, built):
    resources = template["Resources"]
    api = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    tick = resources["Tick"]["Properties"]["Environment"]["Variables"]
    for env in (api, tick):
        assert env["PERSISTENCE_MODULE"] == "chalicelib.persistence.dynamodb"
        assert env["CREATE_TABLE"] == "n"
        assert env["DYNAMODB_TABLE_PREFIX"] == {"Ref": "TablePrefix"}
    deliverer = resources["DeliverWebhooks"]["Properties"]
    assert deliverer["Environment"]["Variables"]["CREATE_TABLE"] == "n"
    for name in SECRET_VARIABLES:
        ref = api[name]["Fn::Sub"]
        assert re.fullmatch(r"\{\{resolve:secretsmanager:\$\{SecretArn\}:SecretString:\w+\}\}", ref)
        assert name not in tick  # the tick needs no secret
    assert set(SECRET_VARIABLES) & set(deliverer["Environment"]["Variables"]) == {"DROPON_WEBHOOK_KEY"}
    # one run at a time, each shorter than the function's timeout
    assert deliverer["ReservedConcurrentExecutions"] == 1
    assert int(deliverer["Environment"]["Variables"]["DROPON_WEBHOOK_RUN_SECONDS"]) < deliverer["Timeout"]
    assert "SecretArn" in template["Parameters"] and "Default" not in template["Parameters"]["SecretArn"]
    # no literal secret anywhere: not the dev key's, not one from this environment
    text = (built / "sam.json").read_text()
    literals = [v for k, v in os.environ.items() if "SECRET" in k and len(v) >= 8]
    dev_key = ROOT / ".data" / "dev-key.json"
    if dev_key.exists():
        key = json.loads(dev_key.read_text())
        literals += [key["secret"], key["nodeSecret"], key.get("webhookKey", key["secret"])]
    assert not [s for s in literals if s in text]
    assert "{{resolve:ssm:" not in text  # plain SSM parameters are not secrets


def test_gateway_responses_use_the_error_shape(template):
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == "404"
    assert json.loads(missing["responseTemplates"]["application/json"]) == {
        "error": {"code": "route_not_found", "message": "no such route"}}
    for kind, response in responses.items():
        document = json.loads(response["responseTemplates"]["application/json"])
        assert set(document) == {"error"} and set(document["error"]) == {"code", "message"}
        # nothing of the request is echoed: no $context/$input/method.request mappings
        text = json.dumps(response)
        assert "$" not in text and "method.request" not in text, kind


def test_schedule_and_handlers(template):
    tick = template["Resources"]["Tick"]["Properties"]
    assert tick["Handler"] == "app.tick"
    assert tick["Events"]["TickEvent"] == {"Type": "Schedule",
                                           "Properties": {"Schedule": "rate(1 minute)"}}
    assert template["Resources"]["APIHandler"]["Properties"]["Handler"] == "app.app"
    deliverer = template["Resources"]["DeliverWebhooks"]["Properties"]
    assert deliverer["Handler"] == "app.deliver_webhooks"
    assert deliverer["Events"]["DeliverWebhooksEvent"]["Properties"]["Schedule"] == "rate(1 minute)"


def test_lambda_package_imports_without_the_media_stack(built, tmp_path):
    with zipfile.ZipFile(built / "deployment.zip") as z:
        tops = {n.split("/")[0] for n in z.namelist()}
        z.extractall(tmp_path)
    assert {"app.py", "chalicelib", "chalice", "eventsourcing", "pynamodb", "jwt"} <= tops
    assert not tops & {"aiortc", "av", "playwright", "moto", "media_node", "tests"}
    # the zip alone (no site-packages: -S) must import the app, as Lambda's python3.11 does
    code = ("import sys; sys.path.insert(0, '.'); import app; "
            "assert 'tick' in dir(app); print(app.app.app_name)")
    run = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, timeout=60,
                         capture_output=True, text=True,
                         env={"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1"})
    assert run.returncode == 0 and run.stdout.strip() == "dropon-rooms", run.stderr


def test_rebuild_leaves_the_projects_requirements_alone(built):
    # chalice reads requirements.txt at its project root: the build copies the app
    assert "aiortc" in (ROOT / "requirements.txt").read_text()
    staged = (ROOT / "infra" / "build" / "app" / "requirements.txt").read_text()
    pins = [line for line in staged.splitlines() if "==" in line]
    assert pins and not [p for p in pins if p.startswith(("aiortc", "av==", "playwright"))]
