"""The media nodes' and the observability stacks, and ``make deploy``/``make destroy``'s
commands (printed with ``--dry-run``; nothing is sent to AWS)."""
from __future__ import annotations

import json
import subprocess

from devstack.process import ROOT
from infra.media_node import LOAD_METRIC, NAMESPACE, media_node_template
from infra.observability import METRICS, observability_template
from infra.tables import TABLES

DEPLOY_ENV = {"STACK": "dr", "API_KEY_ID": "k", "ARTIFACT_BUCKET": "b",
              "SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s",
              "NODE_IMAGE": "1.dkr.ecr.us-east-1.amazonaws.com/node:1",
              "NODE_REPOSITORY_ARN": "arn:aws:ecr:us-east-1:1:repository/node",
              "VPC_ID": "vpc-1", "SUBNET_IDS": "subnet-1,subnet-2"}


def dry_run(action: str, env: dict) -> list[str]:
    run = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "infra.deploy", action,
                          "--dry-run"], cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return [line[2:] for line in run.stdout.splitlines() if line.startswith("+ ")]


def test_deploy_goes_in_order_and_destroy_in_reverse_keeping_the_data():
    deploy = dry_run("deploy", DEPLOY_ENV)
    assert deploy[0].startswith("aws cloudformation package ")  # the Lambda zip to S3
    stacks = [c.split("--stack-name ")[1].split()[0] for c in deploy[1:]]
    assert stacks == ["dr", "dr-nodes", "dr-observability"]
    assert "ControlPlaneStack=dr" in deploy[2] and "MediaNodeStack=dr-nodes" in deploy[3]
    destroy = dry_run("destroy", {"STACK": "dr"})
    deleted = [c.split("--stack-name ")[1] for c in destroy if "delete-stack" in c]
    assert deleted == ["dr-observability", "dr-nodes", "dr"]
    assert not [c for c in destroy if "dynamodb" in c or "kms" in c]  # tables, key: kept
    missing = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "infra.deploy", "deploy",
                              "--dry-run"], cwd=ROOT, env={"PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "API_KEY_ID" in missing.stderr


def test_the_node_service_replaces_before_it_stops_and_scales_on_the_nodes_load():
    resources = media_node_template()["Resources"]
    service = resources["NodeService"]["Properties"]
    assert service["LaunchType"] == "FARGATE"
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "ENABLED"
    deployment = service["DeploymentConfiguration"]
    assert deployment["MinimumHealthyPercent"] == 100 and deployment["MaximumPercent"] == 200
    tracking = resources["NodeScalingPolicy"]["Properties"][
        "TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    assert (tracking["Namespace"], tracking["MetricName"]) == (NAMESPACE, LOAD_METRIC)
    assert METRICS[LOAD_METRIC][0] == "node"  # a metric the nodes publish


# the five alarms docs/runbook.md names, each dropon-<what>-<Stage>
RUNBOOK_ALARMS = {"dropon-no-healthy-node", "dropon-5xx-rate", "dropon-dynamodb-throttles",
                  "dropon-webhook-backlog-age", "dropon-recording-failures"}


def test_every_alarm_the_issue_asks_for_exists_and_notifies():
    resources = observability_template()["Resources"]
    alarms = {k: r["Properties"] for k, r in resources.items()
              if r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")}
    named = {a["AlarmName"]["Fn::Sub"][0].removesuffix("-${Stage}"): k
             for k, a in alarms.items() if "AlarmName" in a}
    assert set(named) == RUNBOOK_ALARMS
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    assert [n for n in RUNBOOK_ALARMS if f"`{n}`" not in runbook] == []
    rule = alarms[named["dropon-dynamodb-throttles"]]["AlarmRule"]["Fn::Sub"]
    children = {f"{t.logical_id}ThrottleAlarm" for t in TABLES} | {"StoreThrottledAlarm"}
    assert {c for c in children if f'ALARM("${{{c}}}")' in rule} == children  # every table
    for name, alarm in alarms.items():  # each notifies, or feeds the composite that does
        if name in named.values():
            assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}], name
        else:
            assert name in children and "AlarmActions" not in alarm, name
        own = alarm.get("Namespace") == NAMESPACE
        assert not own or alarm["MetricName"] in METRICS, name
    # no node reporting at all is as bad as none ready
    assert alarms["NoHealthyMediaNodeAlarm"]["TreatMissingData"] == "breaching"
    body = json.dumps(resources["Dashboard"]["Properties"]["DashboardBody"])
    assert LOAD_METRIC in body and "5XXError" in body and "ThrottleEvents" in body


def test_the_metric_names_are_documented():
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    assert NAMESPACE in deploy
    assert [m for m in METRICS if f"`{m}`" not in deploy] == []
