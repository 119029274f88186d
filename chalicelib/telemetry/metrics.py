"""CloudWatch metrics of the control plane, as Embedded Metric Format log lines
(aws-lambda-powertools): CloudWatch Logs turns each line into a data point of namespace
``DropOn``, with no API call from the Lambda.

Every data point is written at once by a provider of its own, so one request's figures
never mix with another thread's. A metric with a dimension (``Command``, ``Code``...)
is also kept without it (EMF dimension sets ``[Stage]`` and ``[Stage, name]``): the
alarms watch the total. ``Stage`` is ``DROPON_STAGE`` (the stack's ``Stage``), so two
stages in one account keep apart; unset (``make run``), the sets are ``[]`` and
``[name]``. No ``service`` dimension, even with ``POWERTOOLS_SERVICE_NAME`` set: the
alarms name exact dimension sets. The names are the contract with the dashboards and
alarms in ``infra/`` and with docs/runbook.md.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from typing import Iterator

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider)

NAMESPACE = "DropOn"
STAGE_VARIABLE = "DROPON_STAGE"  # the value of every data point's Stage dimension
log = logging.getLogger(__name__)
_WRITING = threading.Lock()  # one EMF line at a time, each in one write

COMMAND_LATENCY = "CommandLatency"  # ms, by Command (the route's use case)
CONFLICTS = "Conflicts"  # a room's save lost to another writer, by Command
RETRIES = "Retries"  # ... and was run again
CONFLICTS_EXHAUSTED = "ConflictsExhausted"  # ... until the attempts ran out (409 conflict)
JOINS_REFUSED = "JoinsRefused"  # by Code (room_full, banned, ...)
MEDIA_UNAVAILABLE = "MediaUnavailable"  # a join or media grant with no healthy node
STORE_THROTTLED = "StoreThrottled"  # DynamoDB throttled or unavailable (503)
WEBHOOK_DELIVERY_LAG = "WebhookDeliveryLag"  # ms from the room event to its delivery
WEBHOOK_BACKLOG_AGE = "WebhookBacklogAge"  # s, age of a delivery that failed an attempt
WEBHOOK_FAILURES = "WebhookDeliveryFailures"  # attempts not delivered, by Outcome
EVENTS_FANNED_OUT = "EventsFannedOut"  # socket messages sent for new room events
HEALTHY_NODES = "HealthyNodes"  # media nodes alive and taking rooms (each tick)
DRAINING_NODES = "DrainingNodes"  # media nodes alive and draining (each tick)
RECORDINGS_FAILED = "RecordingsFailed"  # by Reason (upload_failed, node_lost, ...)

ALL = (COMMAND_LATENCY, CONFLICTS, RETRIES, CONFLICTS_EXHAUSTED, JOINS_REFUSED,
       MEDIA_UNAVAILABLE, STORE_THROTTLED, WEBHOOK_DELIVERY_LAG, WEBHOOK_BACKLOG_AGE,
       WEBHOOK_FAILURES, EVENTS_FANNED_OUT, HEALTHY_NODES, DRAINING_NODES, RECORDINGS_FAILED)


def emit(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count,
         **dimensions: str) -> None:
    """Write one data point now; a failure to write it is logged, never raised."""
    if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED, as flush_metrics honours it
        return
    try:
        provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service="")
        stage = os.environ.get(STAGE_VARIABLE, "")
        if stage:  # in every dimension set, the total's included
            provider.set_default_dimensions(Stage=stage)
        provider.add_metric(name=name, unit=unit, value=value)
        if dimensions:
            provider.add_dimensions(**{k: str(v) for k, v in dimensions.items()})
        # one line in one write: Powertools' flush_metrics prints the object and its
        # newline apart, and two threads' lines then ran together (the local API serves
        # each connection on a thread of its own)
        line = json.dumps(provider.serialize_metric_set(), separators=(",", ":")) + "\n"
        with _WRITING:
            sys.stdout.write(line)
            sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a metric is never worth a failed request
        log.warning("metric %s not written", name, exc_info=True)


@contextlib.contextmanager
def timed(command: str) -> Iterator[None]:
    """Emit ``CommandLatency`` (ms) for ``command`` when the block ends, raised or not."""
    start = time.perf_counter()
    try:
        yield
    finally:
        emit(COMMAND_LATENCY, (time.perf_counter() - start) * 1000, MetricUnit.Milliseconds,
             Command=command)
