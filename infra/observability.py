"""The observability stack: a CloudWatch dashboard, the alarms, and their SNS topic.

It imports the control plane's and the media nodes' exports, so it is deployed last
and deleted first. The ``DropOn`` metrics are published by the code as CloudWatch
embedded metric format lines in its logs (``chalicelib/telemetry/metrics.py``,
``media_node/telemetry/load.py``), each with dimension ``Stage`` (``DROPON_STAGE``) and
some also with one more (``Command``, ``Code``...); the alarms and the dashboard watch
the ``[Stage]`` totals. The names the stacks use are in ``METRICS`` and docs/deploy.md,
"Signals"; tests/integration/test_infra_metrics.py checks each against what the code
writes. The five alarms docs/runbook.md names are ``dropon-<what>-<Stage>``.
"""
from __future__ import annotations

import json

from .media_node import LOAD_METRIC, NAMESPACE
from .tables import TABLES

# metric name -> (published by, unit, what it says): the ones the stacks watch
METRICS = {
    LOAD_METRIC: ("node", "Percent", "the larger of the node's CPU (share of one core) and "
                  "participants / DROPON_MAX_PARTICIPANTS, every 30 s; autoscaling tracks it"),
    "HealthyNodes": ("tick", "Count", "nodes heard from and not draining, each minute"),
    "DrainingNodes": ("tick", "Count", "nodes heard from and draining, each minute"),
    "RecordingsFailed": ("API, tick", "Count", "recordings that ended failed (by Reason)"),
    "StoreThrottled": ("API", "Count", "requests answered 503: DynamoDB throttled or down"),
    "WebhookBacklogAge": ("deliverer", "Seconds", "age of a delivery that failed an attempt"),
    "WebhookDeliveryFailures": ("deliverer", "Count", "attempts not delivered (by Outcome)"),
    "CommandLatency": ("API", "Milliseconds", "a command's latency (by Command)"),
    "JoinsRefused": ("API", "Count", "joins refused (by Code)"),
    "MediaUnavailable": ("API", "Count", "joins or media grants with no healthy node"),
    "Conflicts": ("API", "Count", "a room's save lost to another writer"),
    "EventsFannedOut": ("stream", "Count", "socket messages the stream handler sent"),
}
PARAMETERS = {
    "ControlPlaneStack": {"Type": "String", "Default": "dropon-rooms"},
    "MediaNodeStack": {"Type": "String", "Default": "dropon-rooms-nodes"},
    "AlarmEmail": {"Type": "String", "Default": "",
                   "Description": "Optional address subscribed to the alarms' topic"},
    "Api5xxPercent": {"Type": "Number", "Default": 5, "Description": "Alarm above this 5xx %"},
    "WebhookBacklogSeconds": {"Type": "Number", "Default": 900,
                              "Description": "Alarm when the oldest due webhook is older"},
}
CONDITIONS = {"HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}}


def _cp(name: str) -> dict:
    return {"Fn::ImportValue": {"Fn::Sub": "${ControlPlaneStack}-%s" % name}}


def _stage() -> list[dict]:
    return [{"Name": "Stage", "Value": _cp("Stage")}]


def _table_name(table) -> dict:
    return {"Fn::Sub": [table.name("${Prefix}"), {"Prefix": _cp("TablePrefix")}]}


def _name(what: str) -> dict:
    """``dropon-<what>-<Stage>``: the runbook's name, unique per stage in an account."""
    return {"Fn::Sub": ["dropon-%s-${Stage}" % what, {"Stage": _cp("Stage")}]}


def alarm(description: str, name: str | None = None, **properties) -> dict:
    """An alarm that notifies the topic (``name``: one of the runbook's five), or, without
    a name, one that only feeds the composite ``dropon-dynamodb-throttles``."""
    notify = {"AlarmName": _name(name), "AlarmActions": [{"Ref": "AlarmTopic"}],
              "OKActions": [{"Ref": "AlarmTopic"}]} if name else {}
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, **notify, **properties}}


def _own(name: str, statistic: str, threshold, operator: str, periods: int = 1,
         missing: str = "notBreaching", period: int = 60) -> dict:
    return {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": _stage(),
            "Statistic": statistic, "Period": period, "EvaluationPeriods": periods,
            "Threshold": threshold, "ComparisonOperator": operator, "TreatMissingData": missing}


def alarms() -> dict:
    api = [{"Name": "ApiName", "Value": _cp("RestApiName")}, {"Name": "Stage", "Value": "api"}]
    out = {
        # the tick counts nodes each minute; no data means no tick, and no placement either
        "NoHealthyMediaNodeAlarm": alarm(
            "No media node heard from and taking rooms for 2 minutes: joins get no media",
            "no-healthy-node",
            **_own("HealthyNodes", "Minimum", 1, "LessThanThreshold", 2, "breaching")),
        "Api5xxRateAlarm": alarm(
            "More than Api5xxPercent % of the REST API's answers were 5xx in 3 of 5 minutes",
            "5xx-rate", EvaluationPeriods=5, DatapointsToAlarm=3,
            ComparisonOperator="GreaterThanThreshold",
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
            "A webhook delivery still failing is older than WebhookBacklogSeconds",
            "webhook-backlog-age",
            **_own("WebhookBacklogAge", "Maximum", {"Ref": "WebhookBacklogSeconds"},
                   "GreaterThanThreshold", period=300)),
        "RecordingFailuresAlarm": alarm(
            "A recording failed (node lost, destination refused, upload failed)",
            "recording-failures",
            **_own("RecordingsFailed", "Sum", 1, "GreaterThanOrEqualToThreshold", period=300)),
        # the throttles the API answered 503, whichever table
        "StoreThrottledAlarm": alarm(
            "The API answered 503 store_unavailable (DynamoDB throttled or down)",
            **_own("StoreThrottled", "Sum", 0, "GreaterThanThreshold")),
    }
    for table in TABLES:  # a throttled table refuses saves: a room's command fails
        name = _table_name(table)
        out[f"{table.logical_id}ThrottleAlarm"] = alarm(
            f"{table.logical_id} throttled reads or writes", None,
            EvaluationPeriods=1, ComparisonOperator="GreaterThanThreshold", Threshold=0,
            TreatMissingData="notBreaching",
            Metrics=[*({"Id": kind.lower(), "ReturnData": False, "MetricStat": {
                "Stat": "Sum", "Period": 60, "Metric": {
                    "Namespace": "AWS/DynamoDB", "MetricName": f"{kind}ThrottleEvents",
                    "Dimensions": [{"Name": "TableName", "Value": name}]}}}
                for kind in ("Read", "Write")),
                {"Id": "throttles", "ReturnData": True, "Expression": "read + write",
                 "Label": "throttle events"}])
    # one alarm for the operator over twenty metrics (a metric math alarm takes ten)
    children = [k for k in out if k.endswith("ThrottleAlarm") or k == "StoreThrottledAlarm"]
    out["DynamoDBThrottlesAlarm"] = {"Type": "AWS::CloudWatch::CompositeAlarm", "Properties": {
        "AlarmName": _name("dynamodb-throttles"),
        "AlarmDescription": "A table throttled reads or writes, or the API answered 503",
        "AlarmRule": {"Fn::Sub": " OR ".join('ALARM("${%s}")' % c for c in children)},
        "AlarmActions": [{"Ref": "AlarmTopic"}], "OKActions": [{"Ref": "AlarmTopic"}]}}
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
        widget("Media nodes: load % (autoscaling target)", [own(LOAD_METRIC)], 0,
               stat="Average"),
        widget("Media nodes: healthy and draining (the tick's count)",
               [own("HealthyNodes"), own("DrainingNodes")], 0, 12, "Minimum"),
        widget("REST API: requests, 4xx, 5xx",
               [["AWS/ApiGateway", m, "ApiName", "${RestApiName}", "Stage", "api"]
                for m in ("Count", "4XXError", "5XXError")], 6),
        widget("Lambda errors and throttles",
               [["AWS/Lambda", m, "FunctionName", "${%s}" % f]
                for f in functions for m in ("Errors", "Throttles")], 6, 12),
        widget("DynamoDB throttles (events, notifications), API 503s",
               [["AWS/DynamoDB", f"{k}ThrottleEvents", "TableName", "${%s}" % t]
                for t in ("EventsTable", "NotificationsTable") for k in ("Read", "Write")]
               + [own("StoreThrottled")], 12),
        widget("Webhook backlog age (s)", [own("WebhookBacklogAge")], 12, 12, "Maximum"),
        widget("Recordings failed, webhook attempts failed, joins with no media",
               [own("RecordingsFailed"), own("WebhookDeliveryFailures"),
                own("MediaUnavailable")], 18),
        widget("Commands: latency p99 (ms)", [own("CommandLatency")], 18, 12, "p99"),
        widget("Joins refused, conflicts, events fanned out",
               [own("JoinsRefused"), own("Conflicts"), own("EventsFannedOut")], 24),
        widget("Media node tasks running and desired (Container Insights)",
               [["ECS/ContainerInsights", m, "ClusterName", "${Cluster}", "ServiceName",
                 "${Service}"] for m in ("RunningTaskCount", "DesiredTaskCount")], 24, 12,
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
