"""``GET /rooms/{roomId}/events?wait=<s>``: hold the request until an event arrives.

Media nodes resume from the last ``seq`` they applied, so a poll that ends empty loses
nothing; the interval bounds the extra load on the store.

A participant sees only the events its role lets it (``application.visibility``). The
events it may not see still move the cursor: ``nextAfter`` is the last ``seq`` this read
covered, shown or not, so the next poll starts after it instead of reading the same
hidden range forever; a long poll keeps waiting past hidden events.
"""
from __future__ import annotations

import time

from .schemas import events_query

POLL_INTERVAL = 0.25


def wait_for_events(application, reader, room_id: str, query: dict, settings) -> dict:
    """``{events, nextAfter}`` for ``reader`` (an ``Actor``)."""
    args = events_query(query, settings.max_events_wait)
    after, limit = args["after"], args["limit"]
    deadline = time.monotonic() + args["wait"]
    feed = application.event_filter(reader, room_id)
    while True:
        page = application.room_events(room_id, after=after, limit=limit)
        if page:
            after = page[-1]["seq"]
        events = feed.visible(page)
        if events or time.monotonic() >= deadline:
            return {"events": events, "nextAfter": after}
        if len(page) < limit:  # caught up: wait for the next event
            time.sleep(POLL_INTERVAL)
