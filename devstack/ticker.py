"""Fires the app's scheduled ``tick`` handler every few seconds, as EventBridge does in AWS.

``chalice local`` fires no schedules, so ``make run`` runs this next to it:
``python -m devstack.ticker --interval 5``. It calls the very handler Lambda would.
"""
from __future__ import annotations

import argparse
import logging
import time
import uuid
from datetime import datetime, timezone

log = logging.getLogger("devstack.ticker")


def scheduled_event() -> dict:
    """An EventBridge "Scheduled Event", the shape Lambda hands to ``@app.schedule``."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "000000000000",
            "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1", "resources": ["arn:aws:events:local:rule/dropon-tick"],
            "detail": {}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=5.0)
    interval = parser.parse_args().interval
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from app import tick  # after the environment is set by whoever started us

    while True:
        started = time.monotonic()
        try:
            tick(scheduled_event(), None)
        except Exception:  # noqa: BLE001 - a failed tick is retried at the next one
            log.exception("tick failed")
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
