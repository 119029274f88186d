"""The merge template for ``chalice package --merge-template``: what Chalice does not generate.

Chalice's SAM output has the REST API, the WebSocket API, the functions (``APIHandler``,
the three sockets' handlers, ``RoomEventsStream``, ``Tick``, ``DeliverWebhooks``) and one
role. Merged over it (dicts merge, lists and values replace):

- the DynamoDB tables, from the models (``infra/tables.py``);
- least-privilege roles: the API's and the sockets' role may use every table, the
  stream handler's only the rooms' events and the sockets, the tick's only the rooms'
  store and the nodes, the deliverer's the rooms' log and the webhooks' store; each only
  with the operations the code performs (``tests/integration/test_infra.py`` records
  them), and each writes only its own functions' log groups;
- a log group per function, named for it, with a retention (functions get fixed names,
  ``<stack>-<suffix>``, so the roles can name their log groups without a cycle);
- the KMS key that seals destinations' secrets: the API may only encrypt with it (the
  media nodes' task, ``infra/media_node.py``, may only decrypt);
- outputs exported as ``<stack>-<name>`` for the media node and observability stacks;
- an optional custom domain for the REST API (``DomainName`` with ``CertificateArn``);
- the deliverer runs 50 s of each minute, one at a time (reserved concurrency 1: one
  process writes the delivery cursors);
- the functions' environment, with ``CREATE_TABLE=n`` and the secrets as CloudFormation
  dynamic references to one Secrets Manager secret (never a literal value);
- Gateway Responses, so that API Gateway's own answers use the API's error shape.
"""
from __future__ import annotations

import json

from chalicelib.api.cors import browser_cors

from .iam import (DESTINATION_ROLES, KMS_KEY, assume_destination_role_statement,
                  destination_key, kms_statement, log_group, log_statement)
from .iam import role as iam_role
from .tables import PREFIX, TABLES, resource, table_arn

# the operations the code performs on each table; a transaction's puts need PutItem
STORE_ACTIONS = ["dynamodb:Query", "dynamodb:PutItem"]
NODE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"]
DESTINATION_ACTIONS = [*NODE_ACTIONS, "dynamodb:DeleteItem"]
# a process recorder moves its position with a conditional update inside its transaction
TRACKING_ACTIONS = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
# a room's sockets are found by the table's index (granted apart: socket_statements)
CONNECTION_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem",
                      "dynamodb:DeleteItem"]
STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                  "dynamodb:ListStreams"]
# what the stream handler does: reads rooms' events (and snapshots), its sockets by the
# room index, moves their cursors (the room's one item, or each socket's), forgets the gone
# ones (checked against its calls)
STREAM_TABLE_ACTIONS = {"EventsTable": ["dynamodb:Query"], "SnapshotsTable": ["dynamodb:Query"],
                        "ConnectionsTable": CONNECTION_ACTIONS}
# Chalice's functions of the real-time socket and of the events table's stream
SOCKET_FUNCTIONS = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
STREAM_FUNCTION, STREAM_EVENT = "RoomEventsStream", "RoomEventsStreamDynamodbEventSource"
# every function: its name after the stack's (``<stack>-<suffix>``) and its role
FUNCTIONS = {"APIHandler": ("api", "DefaultRole"),
             "WebsocketConnect": ("ws-connect", "DefaultRole"),
             "WebsocketMessage": ("ws-message", "DefaultRole"),
             "WebsocketDisconnect": ("ws-disconnect", "DefaultRole"),
             STREAM_FUNCTION: ("stream", "StreamRole"),
             "Tick": ("tick", "TickRole"),
             "DeliverWebhooks": ("webhooks", "DeliverWebhooksRole")}
WS_STAGE = "api"  # Chalice's stage name of the WebSocket API
SECRET_KEYS = {"DROPON_API_SECRET": "apiSecret", "DROPON_NODE_SECRET": "nodeSecret",
               "DROPON_WEBHOOK_KEY": "webhookKey"}
DELIVERER_SECRETS = ("DROPON_WEBHOOK_KEY",)
DELIVERER_RUN_SECONDS, DELIVERER_TIMEOUT = 50, 60
# what the other stacks import (``Fn::ImportValue`` of ``<stack>-<name>``)
EXPORTS = {
    "TablePrefix": {"Ref": PREFIX},
    "SecretArn": {"Ref": "SecretArn"},
    "DestinationSecretsKeyArn": {"Fn::GetAtt": [KMS_KEY, "Arn"]},
    "ControlUrl": {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}."
                              "${AWS::URLSuffix}/api"},
    "RestApiName": {"Fn::Sub": "${AWS::StackName}-rest"},
    "Stage": {"Ref": "Stage"},
    **{f"{logical}Name": {"Ref": logical} for logical in FUNCTIONS},
}

PARAMETERS = {
    "Stage": {"Type": "String", "Default": "prod", "AllowedPattern": "^[a-z0-9-]{1,20}$",
              "Description": "Deployment stage (DROPON_STAGE): names metrics' Stage dimension"},
    PREFIX: {"Type": "String", "Default": "dropon", "AllowedPattern": "^[A-Za-z0-9_.-]{1,40}$",
             "Description": "First part of every table name (DYNAMODB_TABLE_PREFIX)"},
    "ApiKeyId": {"Type": "String", "MinLength": 1,
                 "Description": "The admin API key id (iss of admin tokens); not a secret"},
    "SecretArn": {"Type": "String", "AllowedPattern": "^arn:[a-z-]+:secretsmanager:.+$",
                  "Description": "Secrets Manager secret whose JSON holds apiSecret, "
                                 "nodeSecret and webhookKey (a Fernet key; create it "
                                 "before the stack)"},
    "NotificationShards": {"Type": "Number", "Default": 1, "MinValue": 1,
                           "Description": "DYNAMODB_NOTIFICATION_SHARDS; fixed for the "
                                          "tables' life (docs/event-store.md)"},
    "SnapshotInterval": {"Type": "Number", "Default": 100, "MinValue": 0,
                         "Description": "DROPON_SNAPSHOT_INTERVAL: snapshot a room every N "
                                        "events (0: off)"},
    "LogRetentionDays": {"Type": "Number", "Default": 30,
                         "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 180, 365],
                         "Description": "Days the functions' logs are kept"},
    "DomainName": {"Type": "String", "Default": "",
                   "Description": "Optional custom domain of the REST API (api.example.com); "
                                  "empty: the execute-api URL only"},
    "CertificateArn": {"Type": "String", "Default": "",
                       "Description": "ACM certificate of DomainName, in this region "
                                      "(needed with DomainName)"},
}
PARAMETERS["DestinationRoleArns"] = DESTINATION_ROLES
CONDITIONS = {"HasDomain": {"Fn::Not": [{"Fn::Equals": [{"Ref": "DomainName"}, ""]}]}}

# API Gateway's own answers (no route, throttling, too large, timeouts) as the API's
# shape. Fixed messages only: $context.error.message may quote request headers.
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": (404, "route_not_found", "no such route"),
    "REQUEST_TOO_LARGE": (413, "body_too_large", "request body too large"),
    "THROTTLED": (429, "throttled", "too many requests; retry shortly"),
    "INTEGRATION_TIMEOUT": (504, "timeout", "the request took too long"),
    "DEFAULT_4XX": (None, "request_refused", "request refused"),
    "DEFAULT_5XX": (None, "gateway_error", "gateway error"),
}


def store_environment() -> dict:
    """What every function needs to reach the event store in AWS."""
    return {
        "PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb",
        "DYNAMODB_TABLE_PREFIX": {"Ref": PREFIX},
        "CREATE_TABLE": "n",  # the stack owns the tables
        "DYNAMODB_NOTIFICATION_SHARDS": {"Ref": "NotificationShards"},
        "DROPON_SNAPSHOT_INTERVAL": {"Ref": "SnapshotInterval"},
        # the Stage dimension of the DropOn metrics (docs/deploy.md, "Signals")
        "DROPON_STAGE": {"Ref": "Stage"},
    }


def secret_references(names=tuple(SECRET_KEYS)) -> dict:
    return {var: {"Fn::Sub": "{{resolve:secretsmanager:${SecretArn}:SecretString:%s}}"
                  % SECRET_KEYS[var]} for var in names}


def api_environment() -> dict:
    return {**store_environment(), "DROPON_API_KEY": {"Ref": "ApiKeyId"},
            **secret_references(), "DROPON_CORS_ORIGIN": browser_cors().allow_origin,
            # destinations' secrets are sealed with KMS (Encrypt only: infra/iam.py)
            "DROPON_KMS_KEY_ID": {"Fn::GetAtt": [KMS_KEY, "Arn"]}}


def deliverer_environment() -> dict:
    return {**store_environment(), **secret_references(DELIVERER_SECRETS),
            "DROPON_WEBHOOK_RUN_SECONDS": str(DELIVERER_RUN_SECONDS)}


def actions(table) -> list[str]:
    own = {"NodesTable": NODE_ACTIONS, "DestinationsTable": DESTINATION_ACTIONS,
           "ConnectionsTable": CONNECTION_ACTIONS}
    if table.logical_id in own:
        return own[table.logical_id]
    return TRACKING_ACTIONS if table.model.__name__ == "TrackingItem" else STORE_ACTIONS


def deliverer_actions(table) -> list[str]:
    # the rooms' log is only read
    return ["dynamodb:Query"] if table.logical_id == "NotificationsTable" else actions(table)


def socket_statements() -> list[dict]:
    """What the sockets' functions (the API's role) and the stream's need besides tables:
    the connections table's room index and posting to sockets."""
    return [
        {"Effect": "Allow", "Action": ["dynamodb:Query"],
         "Resource": [{"Fn::Sub": "${ConnectionsTable.Arn}/index/*"}]},
        {"Effect": "Allow", "Action": ["execute-api:ManageConnections"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:"
                                  "${AWS::AccountId}:${WebsocketAPI}/*"}]},
    ]


def stream_role() -> dict:
    """The stream handler's role: reading the events table's stream, the rooms' events
    and its sockets, posting to them; no secret, no other table."""
    tables = [t for t in TABLES if t.logical_id in STREAM_TABLE_ACTIONS]
    reads_stream = {"Effect": "Allow", "Action": STREAM_ACTIONS,
                    "Resource": [{"Fn::GetAtt": ["EventsTable", "StreamArn"]}]}
    return lambda_role("StreamRole", tables, lambda t: STREAM_TABLE_ACTIONS[t.logical_id],
                       [reads_stream, *socket_statements()])


def gateway_responses() -> dict:
    origin = browser_cors().allow_origin
    out = {}
    for kind, (status, code, message) in GATEWAY_RESPONSES.items():
        response = {
            "responseParameters": {
                "gatewayresponse.header.Access-Control-Allow-Origin": f"'{origin}'",
                "gatewayresponse.header.Content-Type": "'application/json'"},
            "responseTemplates": {"application/json": json.dumps(
                {"error": {"code": code, "message": message}})},
        }
        if status is not None:
            response["statusCode"] = str(status)
        out[kind] = response
    return out




def log_group_id(function: str) -> str:
    return f"{function}LogGroup"


def function_name(function: str) -> dict:
    return {"Fn::Sub": "${AWS::StackName}-%s" % FUNCTIONS[function][0]}


def lambda_role(role_id: str, tables, actions_of, extra: list[dict] = ()) -> dict:
    """A role for the functions of ``FUNCTIONS`` that use ``role_id``: their log groups,
    ``tables`` with ``actions_of(table)``, and ``extra`` statements."""
    own = [f for f, (_, r) in FUNCTIONS.items() if r == role_id]
    statements = [log_statement([log_group_id(f) for f in own])]
    statements += [{"Effect": "Allow", "Action": actions_of(t), "Resource": [table_arn(t)]}
                   for t in tables]
    return iam_role("lambda.amazonaws.com", [*statements, *extra])


def functions() -> dict:
    """Each function's name, log group (created first), role and environment."""
    environment = {name: api_environment() for name in ("APIHandler", *SOCKET_FUNCTIONS)}
    environment[STREAM_FUNCTION] = {
        **store_environment(), "DROPON_WS_STAGE": WS_STAGE,
        "DROPON_WS_DOMAIN": {"Fn::Sub": "${WebsocketAPI}.execute-api.${AWS::Region}."
                                        "${AWS::URLSuffix}"}}
    environment["Tick"] = store_environment()
    environment["DeliverWebhooks"] = deliverer_environment()
    out = {}
    for name, (suffix, role_id) in FUNCTIONS.items():
        out[log_group_id(name)] = log_group("/aws/lambda/${AWS::StackName}-%s" % suffix)
        out[name] = {"DependsOn": [log_group_id(name)], "Properties": {
            "FunctionName": function_name(name),
            "Role": {"Fn::GetAtt": [role_id, "Arn"]},
            "Environment": {"Variables": environment[name]}}}
    out[STREAM_FUNCTION]["Properties"]["Events"] = {STREAM_EVENT: {"Properties": {
        "Stream": {"Fn::GetAtt": ["EventsTable", "StreamArn"]}}}}
    out["DeliverWebhooks"]["Properties"].update(
        {"Timeout": DELIVERER_TIMEOUT, "ReservedConcurrentExecutions": 1})
    return out


def custom_domain() -> dict:
    """``DomainName`` (regional, TLS 1.2) mapped to the REST API's stage, when given."""
    return {
        "ApiDomainName": {"Type": "AWS::ApiGateway::DomainName", "Condition": "HasDomain",
                          "Properties": {"DomainName": {"Ref": "DomainName"},
                                         "RegionalCertificateArn": {"Ref": "CertificateArn"},
                                         "EndpointConfiguration": {"Types": ["REGIONAL"]},
                                         "SecurityPolicy": "TLS_1_2"}},
        "ApiBasePathMapping": {"Type": "AWS::ApiGateway::BasePathMapping",
                               "Condition": "HasDomain", "DependsOn": ["RestAPIapiStage"],
                               "Properties": {"DomainName": {"Ref": "ApiDomainName"},
                                              "RestApiId": {"Ref": "RestAPI"},
                                              "Stage": "api"}},
    }


def outputs() -> dict:
    return {f"Export{name}": {"Value": value,
                              "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-%s" % name}}}
            for name, value in EXPORTS.items()}


def merge_template() -> dict:
    """The document given to ``chalice package --merge-template``."""
    resources = {t.logical_id: resource(t) for t in TABLES}
    resources[KMS_KEY] = destination_key()
    resources["DestinationSecretsKeyAlias"] = {"Type": "AWS::KMS::Alias", "Properties": {
        "AliasName": {"Fn::Sub": "alias/${AWS::StackName}-destinations"},
        "TargetKeyId": {"Ref": KMS_KEY}}}
    # the API's and the sockets' role: every table but a position in a log (only the
    # deliverer keeps one), the sockets, sealing destinations' secrets
    resources["DefaultRole"] = lambda_role(
        "DefaultRole", [t for t in TABLES if t.model.__name__ != "TrackingItem"], actions,
        [*socket_statements(), kms_statement("kms:Encrypt", {"Fn::GetAtt": [KMS_KEY, "Arn"]}),
         assume_destination_role_statement()])  # verifying a destination with its role
    resources["StreamRole"] = stream_role()
    resources["TickRole"] = lambda_role("TickRole", [t for t in TABLES if t.used_by_tick],
                                        actions)
    resources["DeliverWebhooksRole"] = lambda_role(
        "DeliverWebhooksRole", [t for t in TABLES if t.used_by_deliverer], deliverer_actions)
    resources.update(functions())
    resources["RestAPI"] = {"Properties": {
        "Name": {"Fn::Sub": "${AWS::StackName}-rest"},
        "DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses()}}}
    resources.update(custom_domain())
    return {"Parameters": PARAMETERS, "Conditions": CONDITIONS, "Resources": resources,
            "Outputs": outputs()}
