"""The observability stack: a CloudWatch dashboard, the alarms, and their SNS topic.

It imports the control plane's and the media nodes' exports, so it is deployed last
and deleted first. The ``DropOn`` metrics (namespace ``DropOn``, one dimension
``Stage``) are published by the code as CloudWatch embedded metric format lines in its
logs; their names are listed in ``METRICS`` and in docs/deploy.md, "Signals".
"""
from __future__ import annotations

import json

from .media_node import LOAD_METRIC, NAMESPACE
from .tables import TABLES

# metric name -> (published by, unit, what it says)
METRICS = {
    LOAD_METRIC: ("node", "Percent", "share of the node's capacity in use: the larger of "
                  "CPU and participants / DROPON_MAX_PARTICIPANTS; autoscaling tracks it"),
    "NodeReady": ("node", "Count", "1 while GET /ready answers 200, else 0; every 5 s"),
    "NodeParticipants": ("node", "Count", "participants connected to the node"),
    "RecordingsFailed": ("node, tick", "Count", "recordings that ended failed"),
    "WebhookBacklogAgeSeconds": ("deliverer", "Seconds", "age of the oldest due delivery"),
    "CommandLatency": ("API", "Milliseconds", "a command's latency (with dimension Command)"),
    "JoinsRefused": ("API", "Count", "joins refused (with dimension Code)"),
    "EventsFannedOut": ("stream", "Count", "socket messages the stream handler sent"),
}
PARAMETERS = {
    "ControlPlaneStack": {"Type": "String", "Default": "dropon-rooms"},
    "MediaNodeStack": {"Type": "String", "Default": "dropon-rooms-nodes"},
    "AlarmEmail": {"Type": "String", "Default": "",
                   "Description": "Optional address subscribed to the alarms' topic"},
    "Api5xxPercent": {"Type": "Number", "Default": 5, "Description": "Alarm above this 5xx %"},
    "WebhookBacklogSeconds": {"Type": "Number", "Default": 300,
                              "Description": "Alarm when the oldest due webhook is older"},
}
CONDITIONS = {"HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}}


def _cp(name: str) -> dict:
    return {"Fn::ImportValue": {"Fn::Sub": "${ControlPlaneStack}-%s" % name}}


def _stage() -> list[dict]:
    return [{"Name": "Stage", "Value": _cp("Stage")}]


def _table_name(table) -> dict:
    return {"Fn::Sub": [table.name("${Prefix}"), {"Prefix": _cp("TablePrefix")}]}


def alarm(description: str, **properties) -> dict:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "AlarmActions": [{"Ref": "AlarmTopic"}],
        "OKActions": [{"Ref": "AlarmTopic"}], **properties}}


def _own(name: str, statistic: str, threshold, operator: str, periods: int = 1,
         missing: str = "notBreaching") -> dict:
    return {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": _stage(),
            "Statistic": statistic, "Period": 60, "EvaluationPeriods": periods,
            "Threshold": threshold, "ComparisonOperator": operator, "TreatMissingData": missing}


def alarms() -> dict:
    api = [{"Name": "ApiName", "Value": _cp("RestApiName")}, {"Name": "Stage", "Value": "api"}]
    out = {
        # every node publishes NodeReady; none ready (or none publishing) for 3 minutes
        "NoHealthyMediaNodeAlarm": alarm(
            "No media node reported ready for 3 minutes: joins get no media",
            **_own("NodeReady", "Maximum", 1, "LessThanThreshold", 3, "breaching")),
        "Api5xxRateAlarm": alarm(
            "More than Api5xxPercent % of the REST API's answers were 5xx over 5 minutes",
            EvaluationPeriods=5, DatapointsToAlarm=3, ComparisonOperator="GreaterThanThreshold",
            Threshold={"Ref": "Api5xxPercent"}, TreatMissingData="notBreaching",
            Metrics=[
                {"Id": "errors", "ReturnData": False, "MetricStat": {"Stat": "Sum", "Period": 60,
                 "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "5XXError",
                            "Dimensions": api}}},
                {"Id": "requests", "ReturnData": False, "MetricStat": {"Stat": "Sum", "Period": 60,
                 "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "Count",
                            "Dimensions": api}}},
                {"Id": "rate", "ReturnData": True, "Label": "5xx %",
                 "Expression": "IF(requests > 0, 100 * errors / requests, 0)"}]),
        "WebhookBacklogAgeAlarm": alarm(
            "The oldest due webhook delivery is older than WebhookBacklogSeconds",
            **{**_own("WebhookBacklogAgeSeconds", "Maximum", {"Ref": "WebhookBacklogSeconds"},
                      "GreaterThanThreshold", 5)}),
        "RecordingFailuresAlarm": alarm(
            "A recording failed (node lost, destination refused, upload failed)",
            **_own("RecordingsFailed", "Sum", 1, "GreaterThanOrEqualToThreshold")),
    }
    for table in TABLES:  # a throttled table refuses saves: a room's command fails
        name = _table_name(table)
        out[f"{table.logical_id}ThrottleAlarm"] = alarm(
            f"{table.logical_id} throttled reads or writes",
            EvaluationPeriods=1, ComparisonOperator="GreaterThanThreshold", Threshold=0,
            TreatMissingData="notBreaching",
            Metrics=[*({"Id": kind.lower(), "ReturnData": False, "MetricStat": {
                "Stat": "Sum", "Period": 60, "Metric": {
                    "Namespace": "AWS/DynamoDB", "MetricName": f"{kind}ThrottleEvents",
                    "Dimensions": [{"Name": "TableName", "Value": name}]}}}
                for kind in ("Read", "Write")),
                {"Id": "throttles", "ReturnData": True, "Expression": "read + write",
                 "Label": "throttle events"}])
    return out


def dashboard_body() -> dict:
    """The dashboard's JSON as ``Fn::Sub`` (names come from the other stacks' exports)."""
    def widget(title, metrics, y, x=0, stat="Sum"):
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": {
            "title": title, "metrics": metrics, "stat": stat, "period": 60,
            "region": "${AWS::Region}"}}
    own = lambda name: [NAMESPACE, name, "Stage", "${Stage}"]  # noqa: E731
    functions = ["APIHandler", "RoomEventsStream", "Tick", "DeliverWebhooks"]
    widgets = [
        widget("Media nodes: load % (autoscaling target) and ready",
               [own(LOAD_METRIC), own("NodeReady")], 0, stat="Average"),
        widget("Participants on nodes", [own("NodeParticipants")], 0, 12),
        widget("REST API: requests, 4xx, 5xx",
               [["AWS/ApiGateway", m, "ApiName", "${RestApiName}", "Stage", "api"]
                for m in ("Count", "4XXError", "5XXError")], 6),
        widget("Lambda errors and throttles",
               [["AWS/Lambda", m, "FunctionName", "${%s}" % f]
                for f in functions for m in ("Errors", "Throttles")], 6, 12),
        widget("DynamoDB throttles (events, notifications)",
               [["AWS/DynamoDB", f"{k}ThrottleEvents", "TableName", "${%s}" % t]
                for t in ("EventsTable", "NotificationsTable") for k in ("Read", "Write")], 12),
        widget("Webhook backlog age (s), recordings failed",
               [own("WebhookBacklogAgeSeconds"), own("RecordingsFailed")], 12, 12, "Maximum"),
        widget("Media node tasks running and desired (Container Insights)",
               [["ECS/ContainerInsights", m, "ClusterName", "${Cluster}", "ServiceName",
                 "${Service}"] for m in ("RunningTaskCount", "DesiredTaskCount")], 18,
               stat="Maximum"),
    ]
    def nodes(name):
        return {"Fn::ImportValue": {"Fn::Sub": "${MediaNodeStack}-%s" % name}}
    names = {"Stage": _cp("Stage"), "RestApiName": _cp("RestApiName"),
             "Cluster": nodes("ClusterName"), "Service": nodes("ServiceName"),
             **{f: _cp(f"{f}Name") for f in functions},
             **{t.logical_id: _table_name(t) for t in TABLES
                if t.logical_id in ("EventsTable", "NotificationsTable")}}
    return {"Fn::Sub": [json.dumps({"widgets": widgets}), names]}


def observability_template() -> dict:
    resources = {
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": {"Fn::Sub": "${AWS::StackName}-alarms"}}},
        "AlarmEmailSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasEmail",
                                   "Properties": {"Protocol": "email",
                                                  "Endpoint": {"Ref": "AlarmEmail"},
                                                  "TopicArn": {"Ref": "AlarmTopic"}}},
        "Dashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
            "DashboardName": {"Fn::Sub": "${AWS::StackName}"},
            "DashboardBody": dashboard_body()}},
        **alarms(),
    }
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": "DropOnAir Rooms: dashboard and alarms",
            "Parameters": PARAMETERS, "Conditions": CONDITIONS, "Resources": resources,
            "Outputs": {"AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}}}}
