"""Every ``DropOn`` metric the stacks watch (alarms, the dashboard, the node service's
autoscaling) is one the code writes, with exactly the dimensions it writes.

What the code writes is found in the code: each ``metrics.emit(metrics.X, ...)`` and
``metrics.timed(...)`` call of the control plane (its metric and dimension keywords,
read from the source), run through the real emitter with ``DROPON_STAGE`` set; and the
node's ``NodeLoad`` line as ``media_node/telemetry/load.py`` prints it. A data point
matches an alarm only when namespace, name and the set of dimension names are equal.
"""
from __future__ import annotations

import ast
import json

from tests.integration.infra_code import CONTROL_PLANE, _files
from tests.integration.test_infra import built  # noqa: F401 - the module's fixture

Metric = tuple[str, str, frozenset]  # namespace, name, dimension names


def emitter_calls() -> set[tuple[str, tuple[str, ...]]]:
    """``(metric constant, dimension keywords)`` of every emit/timed call in the code."""
    found = set()
    for path in _files(CONTROL_PLANE):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "metrics"):
                continue
            keywords = tuple(sorted(k.arg for k in node.keywords
                                    if k.arg not in (None, "value", "unit")))
            if node.func.attr == "emit":
                (first, *_) = node.args
                assert isinstance(first, ast.Attribute), ast.unparse(node)
                found.add((first.attr, keywords))
            elif node.func.attr == "timed":
                found.add(("timed", ()))
    return found


def emitted(capsys, monkeypatch) -> set[Metric]:
    from chalicelib.telemetry import metrics
    from media_node.telemetry.load import emf_line
    monkeypatch.setenv("DROPON_STAGE", "test")
    capsys.readouterr()
    calls = emitter_calls()
    for constant, keywords in calls:
        if constant == "timed":
            with metrics.timed("create_room"):
                pass
        else:
            metrics.emit(getattr(metrics, constant), 1, **{k: "x" for k in keywords})
    lines = capsys.readouterr().out.splitlines() + [emf_line(1.0, "test")]
    out = set()
    for line in lines:
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for names in directive["Dimensions"]:
                assert all(record[n] for n in names)  # each dimension has its value
                out |= {(directive["Namespace"], m["Name"], frozenset(names))
                        for m in directive["Metrics"]}
    return out


def watched(templates: list[dict]) -> set[Metric]:
    """Every metric an alarm, a metric-math alarm, a scaling policy or a dashboard names."""
    out = set()

    def walk(value):
        if isinstance(value, dict):
            if "MetricName" in value and "Namespace" in value:
                out.add((value["Namespace"], value["MetricName"],
                         frozenset(d["Name"] for d in value.get("Dimensions", []))))
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    for template in templates:
        walk(template["Resources"])
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::CloudWatch::Dashboard":
                text, _ = resource["Properties"]["DashboardBody"]["Fn::Sub"]
                for widget in json.loads(text)["widgets"]:
                    for row in widget["properties"]["metrics"]:
                        namespace, name, *pairs = row
                        out.add((namespace, name, frozenset(pairs[0::2])))
    return out


def test_the_code_writes_every_metric_the_stacks_watch(capsys, monkeypatch, built):  # noqa: F811
    from infra.package import STACKS
    templates = [json.loads((built / name).read_text()) for name, _ in STACKS]
    ours = {m for m in watched(templates) if m[0] == "DropOn"}
    written = emitted(capsys, monkeypatch)
    assert ours - written == set(), sorted(ours - written)
    names = {name for _, name, _ in ours}
    # the alarms' and the autoscaling's own, at least
    assert {"NodeLoad", "HealthyNodes", "StoreThrottled", "WebhookBacklogAge",
            "RecordingsFailed"} <= names
    assert all(dims == {"Stage"} for _, _, dims in ours)  # the totals, per stage
    # and the test can tell: a dimension set the code does not write is caught
    assert ("DropOn", "JoinsRefused", frozenset({"Code"})) not in written
    assert ("DropOn", "JoinsRefused", frozenset({"Stage", "Code"})) in written


def test_every_emitter_call_names_a_declared_metric():
    from chalicelib.telemetry import metrics
    calls = emitter_calls()
    constants = {c for c, _ in calls if c != "timed"}
    assert {getattr(metrics, c) for c in constants} | {metrics.COMMAND_LATENCY} == set(
        metrics.ALL)
    assert ("JOINS_REFUSED", ("Code",)) in calls and ("timed", ()) in calls


def test_every_process_that_writes_a_metric_is_given_its_stage(built):  # noqa: F811
    from infra.package import STACKS
    sam, nodes, _ = (json.loads((built / name).read_text()) for name, _ in STACKS)
    stage = {"Ref": "Stage"}
    for name, resource in sam["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert resource["Properties"]["Environment"]["Variables"].get(
                "DROPON_STAGE") == stage, name
    (container,) = nodes["Resources"]["NodeTaskDefinition"]["Properties"][
        "ContainerDefinitions"]
    given = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert given["DROPON_STAGE"] == {"Fn::ImportValue": {"Fn::Sub": "${ControlPlaneStack}-Stage"}}
    exported = sam["Outputs"]
    assert any(o["Value"] == stage and o["Export"]["Name"]["Fn::Sub"].endswith("-Stage")
               for o in exported.values() if "Export" in o)
