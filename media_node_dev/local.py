"""A standalone node inside the caller's event loop, on a free 127.0.0.1 port.

Tests and in-process measurements use it; ``python -m media_node`` is the real thing.
"""
from __future__ import annotations

import contextlib
import dataclasses

from aiohttp import web

from media_node.bootstrap import build_node
from media_node.config import NodeConfig
from media_node.node import MediaNode
from media_node.signaling.http import make_app
from media_node_dev.client import WhipClient
from media_node_dev.tokens import mint_media_token


@dataclasses.dataclass
class RunningNode:
    """A started node, how to reach it, and how to mint tokens for it."""

    node: MediaNode
    base_url: str

    def token(self, room: str, participant: str, role: str, **kw) -> str:
        """A media token for this node, as the control plane would mint it."""
        config = self.node.config
        return mint_media_token(config.node_secret, config.node_id, room, participant,
                                role, **kw)

    def client(self, room: str, participant: str, role: str, **kw) -> WhipClient:
        """An aiortc client for ``room`` with a fresh token."""
        url = f"{self.base_url}/rooms/{room}/whip"
        return WhipClient(url, self.token(room, participant, role, **kw))


@contextlib.asynccontextmanager
async def running_node(node_id: str, node_secret: str, control_plane=None, **overrides):
    """Start a standalone node (no control plane) and stop it on exit.

    :param control_plane: a :class:`~media_node.control.client.StandaloneControlPlane`
        filled in beforehand (what the node finds when it starts), or a new one.
    :param overrides: other :class:`~media_node.config.NodeConfig` fields.
    """
    config = NodeConfig(node_id=node_id, node_secret=node_secret, **overrides)
    node = build_node(config, control_plane)
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
