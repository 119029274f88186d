"""The webhook deliverer in its own process, as the scheduled Lambda runs it when deployed.

``chalice local`` fires no schedules, so ``make run`` runs this next to it:
``python -m devstack.webhooks``. It calls the app's ``deliver_webhooks`` handler again and
again; each call follows the rooms' log and sends due deliveries for
``DROPON_WEBHOOK_RUN_SECONDS``. Stop it by its pid: a delivery cut short is sent again by
the next run.
"""
from __future__ import annotations

import logging

from .ticker import scheduled_event

log = logging.getLogger("devstack.webhooks")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from app import deliver_webhooks  # after the environment is set by whoever started us

    while True:
        try:
            deliver_webhooks(scheduled_event(), None)
        except Exception:  # noqa: BLE001 - the next run starts again from the store
            log.exception("webhook delivery run failed")


if __name__ == "__main__":
    main()
