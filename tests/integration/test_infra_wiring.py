"""The three templates against what the code reads and calls, found in the code.

The tables and their DynamoDB grants are checked against the code's real calls on moto
in ``test_infra.py``. Here: environment variables (every one a template sets is read
by the code, and the code's settings come out right on each function's and the task's
environment), the app's streams, schedules, sockets and queues, the AWS services the
code builds clients of (each granted to the function or task that calls it, and
nothing else), and no ``*`` action on a ``*`` resource in any policy.
"""
from __future__ import annotations

import json

import pytest

from devstack.process import ROOT
from tests.integration.infra_code import (CONTROL_PLANE, MEDIA_NODE, agent_calls, boto_clients,
                                          env_reads, resolve, task_secrets)
from tests.integration.test_infra import built  # noqa: F401 - the module's fixture
from tests.integration.test_infra_media_node import image_environment

# variables the templates set for code not yet written; each must still be unread (a
# test checks), so that this list only shrinks. Empty: the code reads every one.
PENDING: dict[str, str] = {}
# resource "*" is allowed only for actions AWS defines on no resource
NO_RESOURCE_ACTIONS = {"ecr:GetAuthorizationToken", "ec2:DescribeNetworkInterfaces"}


@pytest.fixture(scope="module")
def templates(built):  # noqa: F811
    from infra.package import STACKS
    return {name: json.loads((built / name).read_text()) for name, _ in STACKS}


def functions(sam) -> dict:
    return {k: r for k, r in sam["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def container(node_template) -> dict:
    return node_template["Resources"]["NodeTaskDefinition"]["Properties"]["ContainerDefinitions"][0]


def statements(template, role_id: str) -> list[dict]:
    from infra.iam import statements_of
    return statements_of(template["Resources"][role_id])


def defaults(template) -> dict:
    """Every parameter's default (or a sample), every resource's Ref/ARN, every import."""
    refs = {k: str(p.get("Default", f"sample-{k}")) for k, p in template["Parameters"].items()}
    refs.update({k: f"ref-{k}" for k in template["Resources"]})
    refs.update({f"{k}.Arn": f"arn:aws:x:::{k}" for k in template["Resources"]})
    refs.update({"AWS::Region": "us-east-1", "AWS::URLSuffix": "amazonaws.com",
                 "AWS::StackName": "dropon-rooms", "AWS::Partition": "aws",
                 "AWS::AccountId": "123456789012"})
    refs.update({f"import:{k}": f"imported-{k}" for k in (
        "ControlUrl", "DestinationSecretsKeyArn", "Stage", "SecretArn")})
    refs["import:ControlUrl"] = "https://api.example.com/api"
    return refs


def test_every_variable_the_templates_set_is_read_by_the_code(templates):
    cp_reads, node_reads = env_reads(CONTROL_PLANE), env_reads(MEDIA_NODE)
    for name, function in functions(templates["sam.json"]).items():
        variables = set(function["Properties"]["Environment"]["Variables"])
        assert variables - cp_reads - set(PENDING) == set(), name
    task = container(templates["media-node.json"])
    variables = {e["Name"] for e in task["Environment"]} | {s["Name"] for s in task_secrets(task)}
    assert variables - node_reads - set(PENDING) == set()
    image = {k for k in image_environment() if k.startswith("DROPON_")}
    assert image - node_reads == set()  # the Dockerfile's ENV too
    # still pending: once the code reads one, it leaves PENDING
    assert not set(PENDING) & (cp_reads | node_reads), set(PENDING) & (cp_reads | node_reads)


def test_the_control_planes_settings_come_out_right_in_each_function(templates):
    from eventsourcing.utils import Environment
    from chalicelib.config import Settings, WebhookSettings
    from chalicelib.persistence.settings import DynamoDBSettings
    sam = templates["sam.json"]
    refs = defaults(sam)
    env = {name: {k: resolve(v, refs)
                  for k, v in f["Properties"]["Environment"]["Variables"].items()}
           for name, f in functions(sam).items()}
    for name, variables in env.items():  # every function reaches the stack's tables
        store = DynamoDBSettings.from_env(Environment("RoomsApplication", variables))
        assert store.table_prefix == refs["TablePrefix"] and variables["CREATE_TABLE"] == "n", name
    api = Settings.from_env(env["APIHandler"])
    assert set(api.api_keys) == {refs["ApiKeyId"]} and api.node_secret
    assert api.kms_key_id == refs["DestinationSecretsKey.Arn"]  # secrets sealed with KMS
    assert not api.secrets_key  # and never with a key in the environment
    assert WebhookSettings.from_env(env["DeliverWebhooks"]).key
    for socket in ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect"):
        assert Settings.from_env(env[socket]).api_keys == api.api_keys  # tokens checked
    assert env["RoomEventsStream"]["DROPON_WS_DOMAIN"].startswith("ref-WebsocketAPI.")
    assert not Settings.from_env(env["Tick"]).api_keys  # the tick holds no secret


def test_the_node_starts_on_its_task_environment_and_the_network_matches(templates):
    from media_node.config import NodeConfig
    nodes = templates["media-node.json"]
    refs = defaults(nodes)
    task = container(nodes)
    env = {**image_environment(),
           **{e["Name"]: resolve(e["Value"], refs) for e in task["Environment"]},
           **{s["Name"]: "sample-secret" for s in task_secrets(task)}}
    config = NodeConfig.from_env(env)
    assert not config.standalone and not config.ice_loopback_only and config.host == "0.0.0.0"
    assert config.kms_key_id and config.fanout == "c" and config.metrics_token
    assert config.stage == refs["import:Stage"] and config.stun_server == refs["StunServer"]
    assert config.drain_seconds == float(refs["DrainSeconds"])
    assert config.protection_minutes == int(refs["ProtectionMinutes"])
    # each task announces its public address on the signaling port, by default over HTTP
    from media_node.ecs.identity import public_url
    assert public_url(env["DROPON_NODE_PUBLIC_URL_TEMPLATE"], public_ip="203.0.113.9",
                      port=config.port, node_id="task-1", task="1") == (
        f"http://203.0.113.9:{config.port}")
    ice = (config.ice_port_min, config.ice_port_max)
    assert ice == (int(refs["IcePortMin"]), int(refs["IcePortMax"]))
    assert config.port == int(refs["SignalingPort"])
    # the security group and the port mappings open exactly those ports
    ingress = nodes["Resources"]["NodeSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    opened = {(r["IpProtocol"], resolve(r["FromPort"], refs), resolve(r["ToPort"], refs))
              for r in ingress}
    assert opened == {("udp", *map(str, ice)), ("tcp", str(config.port), str(config.port))}
    mapped = {(m["Protocol"], resolve(m.get("ContainerPortRange") or m["ContainerPort"], refs))
              for m in task["PortMappings"]}
    assert mapped == {("udp", "%d-%d" % ice), ("tcp", str(config.port))}
    keys = {s["Name"]: s["ValueFrom"]["Fn::Sub"][0] for s in task_secrets(task)}
    assert keys == {"DROPON_NODE_SECRET": "${Arn}:nodeSecret::",
                    "DROPON_METRICS_TOKEN": "${Arn}:metricsToken::"}
    (optional,) = [s for s in task["Secrets"] if "Fn::If" in s]  # only with the parameter
    assert optional["Fn::If"][0] == "HasMetricsToken"


def test_the_apps_streams_schedules_and_sockets_are_wired_and_it_has_no_queue(templates):
    import app
    from chalice.app import DynamoDBEventConfig, ScheduledEventConfig
    from infra.iam import as_list
    sam = templates["sam.json"]
    by_handler = {f["Properties"]["Handler"]: (k, f) for k, f in functions(sam).items()}
    kinds = set()
    for source in app.app.event_sources:
        kinds.add(type(source).__name__)
        name, function = by_handler[source.handler_string]
        (event,) = function["Properties"]["Events"].values()
        if isinstance(source, DynamoDBEventConfig):
            table = event["Properties"]["Stream"]["Fn::GetAtt"]
            assert table[1] == "StreamArn"
            assert "StreamSpecification" in sam["Resources"][table[0]]["Properties"]
            role = function["Properties"]["Role"]["Fn::GetAtt"][0]
            readers = [s for s in statements(sam, role)
                       if {"Fn::GetAtt": table} in as_list(s["Resource"])]
            assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator"} <= {
                a for s in readers for a in s["Action"]}, name
        elif isinstance(source, ScheduledEventConfig):
            assert event["Type"] == "Schedule"
            assert event["Properties"]["Schedule"] == source.schedule_expression.to_string()
    assert kinds == {"DynamoDBEventConfig", "ScheduledEventConfig"}  # no SQS, S3 or SNS source
    sockets = {r["Properties"]["RouteKey"] for r in sam["Resources"].values()
               if r["Type"] == "AWS::ApiGatewayV2::Route"}
    assert sockets == set(app.app.websocket_handlers)
    everything = json.dumps(templates)
    assert "AWS::SQS::" not in everything and "sqs" not in boto_clients(CONTROL_PLANE + MEDIA_NODE)


def actions_by_service(template, role_id: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for s in statements(template, role_id):
        for action in s["Action"] if isinstance(s["Action"], list) else [s["Action"]]:
            out.setdefault(action.split(":")[0], set()).add(action)
    return out


def test_the_aws_services_the_code_calls_are_granted_to_whoever_calls_them(templates):
    sam, nodes = templates["sam.json"], templates["media-node.json"]
    calls = kms_calls()
    assert boto_clients(CONTROL_PLANE) == {"kms", "sts", "s3"}
    assert boto_clients(MEDIA_NODE) == {"kms", "sts", "s3", "ec2"}  # ec2: its public IP
    api = actions_by_service(sam, "DefaultRole")
    task = actions_by_service(nodes, "NodeTaskRole")
    assert api["kms"] == {f"kms:{calls['seal']}"}  # the control plane only seals
    # ecs: the agent sets the task's scale-in protection with the task role's credentials
    assert agent_calls(CONTROL_PLANE) == set()
    assert task == {"kms": {f"kms:{calls['open']}"}, "sts": {"sts:AssumeRole"},
                    "ec2": {f"ec2:{ec2_call()}"}, "ecs": agent_calls(MEDIA_NODE)}
    assert agent_calls(MEDIA_NODE) == {"ecs:UpdateTaskProtection"}  # PUT only, never GET
    (protect,) = [s for s in statements(nodes, "NodeTaskRole") if s["Action"][0][:4] == "ecs:"]
    cluster_tasks = ("arn:aws:ecs:us-east-1:123456789012:task/ref-NodeCluster/*")
    assert [resolve(r, defaults(nodes)) for r in protect["Resource"]] == [cluster_tasks]
    assert api["sts"] == {"sts:AssumeRole"}  # verify assumes a destination's role
    # buckets are written with a destination's own credentials or its role, never ours
    for template in templates.values():
        assert '"s3:' not in json.dumps(template)
    for role in ("TickRole", "DeliverWebhooksRole"):
        assert set(actions_by_service(sam, role)) == {"logs", "dynamodb"}
    # every assumed role needs an external id, and both sides use the code's KMS context
    from chalicelib.adapters.sealers import KMS_CONTEXT
    for template, role in ((sam, "DefaultRole"), (nodes, "NodeTaskRole")):
        for s in statements(template, role):
            if s["Action"] == ["sts:AssumeRole"]:
                assert s["Condition"] == {"Null": {"sts:ExternalId": "false"}}
            if s["Action"][0].startswith("kms:"):
                assert s["Condition"]["StringEquals"] == {
                    f"kms:EncryptionContext:{k}": v for k, v in KMS_CONTEXT.items()}


def ec2_call() -> str:
    """The EC2 operation the node's code calls: every ``x.method(...)`` in media_node/
    whose name is a method of boto3's EC2 client, as the API's own name."""
    import ast
    import boto3
    from tests.integration.infra_code import _files
    mapping = boto3.client("ec2", region_name="us-east-1").meta.method_to_api_mapping
    found = {mapping[node.func.attr] for path in _files(MEDIA_NODE)
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and node.func.attr in mapping}
    (operation,) = found
    return operation


def kms_calls() -> dict[str, str]:
    """The KMS operation each side's code performs, from running it on a recording client."""
    from chalicelib.adapters.sealers import KMSSealer
    from media_node.storage.credentials import KMSSecretOpener

    class Recording:
        def __init__(self):
            self.calls = []

        def encrypt(self, **params):
            self.calls.append("Encrypt")
            return {"CiphertextBlob": b"blob"}

        def decrypt(self, **params):
            self.calls.append("Decrypt")
            return {"Plaintext": b"{}"}

    sealer, opener = Recording(), Recording()
    KMSSealer("k", sealer).seal(b"{}")
    KMSSecretOpener("k", opener).open("YmxvYg==")
    (seal,), (opened,) = sealer.calls, opener.calls
    return {"seal": seal, "open": opened}


def test_no_policy_has_a_star_action_or_a_star_resource_but_where_aws_needs_one(templates):
    from infra.iam import as_list
    seen = 0
    for template in templates.values():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] not in ("AWS::IAM::Role", "AWS::KMS::Key"):
                continue
            for s in statements(template, logical_id):
                seen += 1
                actions = as_list(s["Action"])
                assert not [a for a in actions if a == "*" or a.endswith(":*")], (logical_id, s)
                if "*" in as_list(s["Resource"]):
                    # a key policy's "*" is the key itself; elsewhere only AWS's no-resource actions
                    assert (resource["Type"] == "AWS::KMS::Key"
                            or set(actions) <= NO_RESOURCE_ACTIONS), s
    assert seen > 10


def test_retained_data_and_retention_everywhere(templates):
    for template in templates.values():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in ("AWS::DynamoDB::Table", "AWS::KMS::Key"):
                assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
            if resource["Type"] == "AWS::Logs::LogGroup":
                assert resource["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    sam = templates["sam.json"]
    for name, function in functions(sam).items():  # every function logs to a group of the stack
        group = sam["Resources"][f"{name}LogGroup"]["Properties"]["LogGroupName"]["Fn::Sub"]
        assert group == "/aws/lambda/" + function["Properties"]["FunctionName"]["Fn::Sub"]
    assert (ROOT / "docs" / "deploy.md").read_text().count("Retain") >= 1
