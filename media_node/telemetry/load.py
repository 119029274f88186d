"""``DropOn/NodeLoad``: the metric the node service's autoscaling tracks.

Every :data:`INTERVAL` s a deployed node (``DROPON_STAGE`` set) prints one CloudWatch
embedded metric format line on stdout; the task's ``awslogs`` driver ships it to
CloudWatch Logs, which turns it into a data point. No API call, no credentials.

The load is a percent, the larger of two shares of what one node can carry:

- CPU: the process' CPU seconds per wall second, as a percent of one core. Forwarding
  runs on one event loop, so one core is the ceiling whatever the task's vCPUs
  (the compositor is its own process and is not counted);
- participants: connected sessions over ``DROPON_MAX_PARTICIPANTS``, the capacity the
  node announces in its heartbeats.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Callable, TextIO

NAMESPACE = "DropOn"
LOAD_METRIC = "NodeLoad"
DIMENSIONS = [["Stage"]]  # the autoscaling policy names exactly this set
INTERVAL = 30.0  # s: two data points in each minute the policy averages


class CpuShare:
    """The process' CPU use since the previous reading, as a percent of one core."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] = lambda: sum(os.times()[:2])) -> None:
        self.clock, self.cpu = clock, cpu
        self.last = (clock(), cpu())

    def read(self) -> float:
        now, used = self.clock(), self.cpu()
        (then, before), self.last = self.last, (now, used)
        if now <= then:
            return 0.0
        return 100.0 * (used - before) / (now - then)


def node_load(cpu_percent: float, participants: int, capacity: int) -> float:
    """The larger share, in percent, at most 100."""
    seats = 100.0 * participants / capacity if capacity > 0 else 0.0
    return round(min(max(cpu_percent, seats), 100.0), 1)


def emf_line(load: float, stage: str, now: float | None = None) -> str:
    """One EMF record of ``NodeLoad`` (Percent) with dimension ``Stage``."""
    return json.dumps({
        "_aws": {"Timestamp": int((time.time() if now is None else now) * 1000),
                 "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": DIMENSIONS,
                                        "Metrics": [{"Name": LOAD_METRIC,
                                                     "Unit": "Percent"}]}]},
        "Stage": stage, LOAD_METRIC: load}, separators=(",", ":"))


async def publish_load(sessions: Callable[[], int], capacity: int, stage: str,
                       interval: float = INTERVAL, out: TextIO | None = None) -> None:
    """Print ``NodeLoad`` every ``interval`` s until cancelled.

    :param sessions: how many participants the node carries now.
    """
    cpu = CpuShare()
    while True:
        await asyncio.sleep(interval)
        line = emf_line(node_load(cpu.read(), sessions(), capacity), stage)
        stream = out or sys.stdout
        stream.write(line + "\n")
        stream.flush()
