"""A media node on 127.0.0.1 in the test's own event loop, and its clients."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

from aiohttp import web

from media_node.bootstrap import build_node
from media_node.client import WhipClient
from media_node.config import NodeConfig
from media_node.http import make_app
from media_node.ice import restrict_to_loopback
from media_node.node import MediaNode
from media_node.tokens import mint_media_token

SECRET = "test-node-secret-0123456789abcdefghij"
NODE_ID = "node-test"

# test clients gather loopback candidates only, like the node
restrict_to_loopback()


@dataclasses.dataclass
class RunningNode:
    """A started node and how to reach it."""

    node: MediaNode
    base_url: str

    def token(self, room: str, participant: str, role: str, **kw) -> str:
        return mint_media_token(SECRET, NODE_ID, room, participant, role, **kw)

    def client(self, room: str, participant: str, role: str, **kw) -> WhipClient:
        url = f"{self.base_url}/rooms/{room}/whip"
        return WhipClient(url, self.token(room, participant, role, **kw))


@contextlib.asynccontextmanager
async def running_node(**overrides):
    """Start a standalone node (``DROPON_CONTROL_URL`` empty) on a free loopback port."""
    config = NodeConfig(node_id=NODE_ID, node_secret=SECRET, **overrides)
    node = build_node(config)
    runner = web.AppRunner(make_app(node))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    node.config = dataclasses.replace(config, port=port, public_url=base)
    try:
        yield RunningNode(node, base)
    finally:
        await runner.cleanup()


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout``; returns the last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


def run(coro):
    """Run one scenario in a fresh event loop."""
    return asyncio.run(coro)
