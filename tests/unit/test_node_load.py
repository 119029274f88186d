"""``DropOn/NodeLoad``, the node's autoscaling metric: its arithmetic and its EMF line,
without I/O (the line goes to a StringIO)."""
from __future__ import annotations

import asyncio
import contextlib
import io
import json

from media_node.telemetry.load import CpuShare, emf_line, node_load, publish_load


def test_the_load_is_the_larger_share_capped_at_100():
    assert node_load(12.0, 32, 64) == 50.0  # seats decide
    assert node_load(80.04, 8, 64) == 80.0  # CPU decides
    assert node_load(250.0, 0, 64) == 100.0 and node_load(0.0, 90, 64) == 100.0
    assert node_load(3.0, 5, 0) == 3.0  # no capacity announced: CPU only


def test_cpu_share_is_cpu_seconds_per_wall_second_of_one_core():
    clock, cpu = iter([0.0, 10.0, 10.0]), iter([1.0, 8.5, 9.0])
    share = CpuShare(lambda: next(clock), lambda: next(cpu))
    assert share.read() == 75.0
    assert share.read() == 0.0  # no time passed: no figure


def test_the_line_is_one_emf_record_with_the_stage_dimension():
    record = json.loads(emf_line(42.5, "prod", now=1_700_000_000))
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive == {"Namespace": "DropOn", "Dimensions": [["Stage"]],
                         "Metrics": [{"Name": "NodeLoad", "Unit": "Percent"}]}
    assert record["Stage"] == "prod" and record["NodeLoad"] == 42.5
    assert record["_aws"]["Timestamp"] == 1_700_000_000_000


def test_the_publisher_prints_a_line_each_interval_until_cancelled():
    out = io.StringIO()

    async def run():
        task = asyncio.ensure_future(publish_load(lambda: 16, 64, "dev", 0.01, out))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) >= 2
    assert all(r["Stage"] == "dev" and r["NodeLoad"] >= 25.0 for r in records)


class Node:
    """What the telemetry routes read of a node."""

    rooms: dict = {}
    sessions = {"s1": object(), "s2": object()}
    draining = False
    control_plane = None


def _serve_briefly(stage: str) -> None:
    """Run the routes' background tasks as aiohttp would, for a few intervals."""
    from aiohttp import web
    from media_node.telemetry.routes import install

    async def run():
        app = web.Application()
        install(app, Node(), stage=stage, capacity=4, load_interval=0.01)
        (context,) = app.cleanup_ctx
        steps = context(app)
        await steps.__anext__()  # started
        await asyncio.sleep(0.05)
        with contextlib.suppress(StopAsyncIteration):
            await steps.__anext__()  # cleaned up: the tasks cancelled
        assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    asyncio.run(run())


def test_a_deployed_node_publishes_its_load_and_a_local_one_does_not(capsys):
    _serve_briefly("prod")
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records and all(r["Stage"] == "prod" and r["NodeLoad"] >= 50.0 for r in records)
    _serve_briefly("")
    assert capsys.readouterr().out == ""
