"""``GET /rooms/{roomId}/events?wait=<s>``: hold the request until an event arrives.

Media nodes resume from the last ``seq`` they applied, so a poll that ends empty loses
nothing; the interval bounds the extra load on the store.
"""
from __future__ import annotations

import time

from .schemas import events_query

POLL_INTERVAL = 0.25


def wait_for_events(application, room_id: str, query: dict, settings) -> list:
    args = events_query(query, settings.max_events_wait)
    deadline = time.monotonic() + args.pop("wait")
    while True:
        events = application.room_events(room_id, **args)
        if events or time.monotonic() >= deadline:
            return events
        time.sleep(POLL_INTERVAL)
