"""A media node on 127.0.0.1 in the test's own event loop, and its clients."""
from __future__ import annotations

import asyncio
import time

from media_node.ice.loopback import restrict_to_loopback
from media_node_dev import local

SECRET = "test-node-secret-0123456789abcdefghij"
NODE_ID = "node-test"

# test clients gather loopback candidates only, like the node
restrict_to_loopback()


def running_node(**overrides):
    """A standalone node (``DROPON_CONTROL_URL`` empty) on a free loopback port."""
    return local.running_node(NODE_ID, SECRET, **overrides)


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout``; returns the last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


def error_code(body: dict) -> str:
    """The ``code`` of an error body, checking it has the API's shape
    ``{"error": {"code", "message"}}`` and nothing else."""
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


def run(coro):
    """Run one scenario in a fresh event loop."""
    return asyncio.run(coro)
