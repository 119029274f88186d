"""Prometheus metrics of one node, read at scrape time (``GET /metrics``).

Gauges come from the node's own state (rooms, sessions, recordings, draining); counters
from :data:`media_node.counters.COUNTERS`; CPU and memory from prometheus-client's
process collector. Each node has its own registry, so tests can run several in one
process.
"""
from __future__ import annotations

import asyncio
from typing import Any, Iterator, Protocol

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..counters import COUNTERS

PREFIX = "dropon_node_"
# counter name (without _total) -> (field of COUNTERS, help)
COUNTER_METRICS = {
    "rtp_packets_in": ("packets_in", "RTP packets received from publishers"),
    "rtp_bytes_in": ("bytes_in", "RTP bytes received from publishers"),
    "rtp_packets_out": ("packets_out", "RTP packets sent to subscribers"),
    "rtp_bytes_out": ("bytes_out", "RTP bytes sent to subscribers"),
    "nacks_received": ("nacks_received", "packets subscribers asked for again (NACK)"),
    "nacks_sent": ("nacks_sent", "NACKs sent to publishers"),
    "packets_lost": ("packets_lost", "sequence gaps seen in publishers' streams"),
    "plis_sent": ("plis_sent", "keyframe requests (PLI) relayed to publishers"),
    "rtx_sent": ("rtx_sent", "retransmissions (RTX) sent to subscribers"),
    "queue_drops": ("queue_drops", "frames a subscriber missed (socket backlog or queue full)"),
    "keyframe_skips": ("keyframe_skips", "frames withheld while a subscriber waits for a keyframe"),
    "recording_bytes_uploaded": ("upload_bytes", "recording bytes the stores accepted"),
    "recording_upload_failures": ("upload_failures", "store calls failed after their retries"),
    "recordings_failed": ("recordings_failed", "recordings that ended failed"),
}


class ObservedNode(Protocol):
    """What the collector reads of :class:`~media_node.node.MediaNode`."""

    rooms: dict
    sessions: dict
    recordings: Any  # .active
    draining: bool
    control_plane: Any  # .reachable


class LoopLag:
    """How late the event loop wakes a task that sleeps ``interval`` s: a busy loop delays
    every packet it forwards by as much."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.last = 0.0
        self.worst = 0.0  # since the last scrape

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.last = max(loop.time() - start - self.interval, 0.0)
            self.worst = max(self.worst, self.last)

    def take_worst(self) -> float:
        worst, self.worst = max(self.worst, self.last), 0.0
        return worst


class NodeCollector(Collector):
    """The node's gauges and counters, computed when scraped."""

    def __init__(self, node: ObservedNode, lag: LoopLag) -> None:
        self.node, self.lag = node, lag

    def collect(self) -> Iterator:
        node = self.node
        sessions = list(node.sessions.values())
        reachable = getattr(node.control_plane, "reachable", True)
        yield from (
            _gauge("rooms", "rooms with state on this node", len(node.rooms)),
            _gauge("participants", "connected sessions", len(sessions)),
            _gauge("publishers", "sessions publishing at least one track",
                   sum(1 for s in sessions if s.published)),
            _gauge("subscribers", "sessions receiving at least one track",
                   sum(1 for s in sessions if s.forwarded)),
            _gauge("published_tracks", "tracks published in every room",
                   sum(len(r.sources) for r in node.rooms.values())),
            _gauge("recordings_active", "recordings writing or uploading",
                   len(node.recordings.active)),
            _gauge("draining", "1 while the node drains (takes no new rooms)",
                   int(node.draining)),
            _gauge("control_plane_reachable", "1 if the last heartbeat was taken",
                   int(bool(reachable))),
            _gauge("event_loop_lag_seconds", "latest event loop wake-up delay", self.lag.last),
            _gauge("event_loop_lag_max_seconds", "worst event loop wake-up delay since the "
                   "last scrape", self.lag.take_worst()),
        )
        counts = COUNTERS.as_dict()
        for name, (field, help_text) in COUNTER_METRICS.items():
            yield CounterMetricFamily(PREFIX + name, help_text, value=counts[field])


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, help_text, value=value)


def node_registry(node: ObservedNode, lag: LoopLag) -> CollectorRegistry:
    """A registry with the node's metrics and the process' CPU and memory."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node, lag))
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, resident memory
    return registry
