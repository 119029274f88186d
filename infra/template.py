"""The merge template for ``chalice package --merge-template``: what Chalice does not generate.

Chalice's SAM output has the API, the three functions (``APIHandler``, ``Tick``,
``DeliverWebhooks``) and one role. Merged over it (dicts merge, lists and values replace):

- the DynamoDB tables, from the models (``infra/tables.py``);
- least-privilege roles: the API's role may use every table, the tick's role only the
  rooms' store, the deliverer's the rooms' and the webhooks' stores; each only with the
  operations the code performs;
- the deliverer runs 50 s of each minute, one at a time (reserved concurrency 1: one
  process writes the delivery cursors);
- the functions' environment, with ``CREATE_TABLE=n`` and the secrets as CloudFormation
  dynamic references to one Secrets Manager secret (never a literal value);
- Gateway Responses, so that API Gateway's own answers use the API's error shape.
"""
from __future__ import annotations

import json

from chalicelib.api.cors import browser_cors

from .tables import PREFIX, TABLES, resource, table_arn

# the operations the code performs on each table; a transaction's puts need PutItem
STORE_ACTIONS = ["dynamodb:Query", "dynamodb:PutItem"]
NODE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"]
DESTINATION_ACTIONS = [*NODE_ACTIONS, "dynamodb:DeleteItem"]
# a process recorder moves its position with a conditional update inside its transaction
TRACKING_ACTIONS = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
CONNECTION_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem",
                      "dynamodb:DeleteItem", "dynamodb:Query"]
STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                  "dynamodb:ListStreams"]
# Chalice's functions of the real-time socket and of the events table's stream
SOCKET_FUNCTIONS = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
STREAM_FUNCTION, STREAM_EVENT = "RoomEventsStream", "RoomEventsStreamDynamodbEventSource"
WS_STAGE = "api"  # Chalice's stage name of the WebSocket API
SECRET_KEYS = {"DROPON_API_SECRET": "apiSecret", "DROPON_NODE_SECRET": "nodeSecret",
               "DROPON_WEBHOOK_KEY": "webhookKey"}
DELIVERER_SECRETS = ("DROPON_WEBHOOK_KEY",)
DELIVERER_RUN_SECONDS, DELIVERER_TIMEOUT = 50, 60

PARAMETERS = {
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
}

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
    }


def secret_references(names=tuple(SECRET_KEYS)) -> dict:
    return {var: {"Fn::Sub": "{{resolve:secretsmanager:${SecretArn}:SecretString:%s}}"
                  % SECRET_KEYS[var]} for var in names}


def api_environment() -> dict:
    return {**store_environment(), "DROPON_API_KEY": {"Ref": "ApiKeyId"},
            **secret_references(), "DROPON_CORS_ORIGIN": browser_cors().allow_origin}


def deliverer_environment() -> dict:
    return {**store_environment(), **secret_references(DELIVERER_SECRETS),
            "DROPON_WEBHOOK_RUN_SECONDS": str(DELIVERER_RUN_SECONDS)}


def role(tables, actions_of) -> dict:
    """A role for one function: its own log groups, and only ``tables``."""
    statements = [{
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        # SAM names functions <stack>-<logical id>-<suffix>
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                                ":log-group:/aws/lambda/${AWS::StackName}-*"},
    }]
    for table in tables:
        statements.append({"Effect": "Allow", "Action": actions_of(table),
                           "Resource": [table_arn(table)]})
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "DefaultRolePolicy",
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}],
        },
    }


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
    """What the socket's and the stream's functions (the API's role) need besides tables:
    the connections table's room index, the events table's stream, posting to sockets."""
    return [
        {"Effect": "Allow", "Action": ["dynamodb:Query"],
         "Resource": [{"Fn::Sub": "${ConnectionsTable.Arn}/index/*"}]},
        {"Effect": "Allow", "Action": STREAM_ACTIONS,
         "Resource": [{"Fn::GetAtt": ["EventsTable", "StreamArn"]}]},
        {"Effect": "Allow", "Action": ["execute-api:ManageConnections"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:"
                                  "${AWS::AccountId}:${WebsocketAPI}/*"}]},
    ]


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


def merge_template() -> dict:
    """The document given to ``chalice package --merge-template``."""
    tick_tables = [t for t in TABLES if t.used_by_tick]
    resources = {t.logical_id: resource(t) for t in TABLES}
    # the API handler's role: everything but a position in a log, which only the deliverer keeps
    resources["DefaultRole"] = role([t for t in TABLES if t.model.__name__ != "TrackingItem"],
                                    actions)
    resources["DefaultRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] += \
        socket_statements()
    for name in SOCKET_FUNCTIONS:
        resources[name] = {"Properties": {"Environment": {"Variables": api_environment()}}}
    resources[STREAM_FUNCTION] = {"Properties": {
        "Environment": {"Variables": {
            **api_environment(), "DROPON_WS_STAGE": WS_STAGE,
            "DROPON_WS_DOMAIN": {"Fn::Sub": "${WebsocketAPI}.execute-api.${AWS::Region}."
                                            "${AWS::URLSuffix}"}}},
        "Events": {STREAM_EVENT: {"Properties": {
            "Stream": {"Fn::GetAtt": ["EventsTable", "StreamArn"]}}}}}}
    resources["TickRole"] = role(tick_tables, actions)
    resources["APIHandler"] = {"Properties": {"Environment": {"Variables": api_environment()}}}
    resources["Tick"] = {"Properties": {
        "Role": {"Fn::GetAtt": ["TickRole", "Arn"]},
        "Environment": {"Variables": store_environment()}}}
    resources["DeliverWebhooksRole"] = role([t for t in TABLES if t.used_by_deliverer],
                                            deliverer_actions)
    resources["DeliverWebhooks"] = {"Properties": {
        "Role": {"Fn::GetAtt": ["DeliverWebhooksRole", "Arn"]},
        "Timeout": DELIVERER_TIMEOUT, "ReservedConcurrentExecutions": 1,
        "Environment": {"Variables": deliverer_environment()}}}
    resources["RestAPI"] = {"Properties": {"DefinitionBody": {
        "x-amazon-apigateway-gateway-responses": gateway_responses()}}}
    return {"Parameters": PARAMETERS, "Resources": resources}
