"""``python -m media_node``: run one media node until SIGTERM or SIGINT, then drain.

The first signal drains (``MediaNode.drain``: no new rooms, recordings stopped and
uploaded, sessions told ``bye``) within ``DROPON_DRAIN_SECONDS`` and exits 0; a second
one exits at once. ECS sends SIGTERM and, ``stopTimeout`` later, SIGKILL.
"""
from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import signal
import sys

from aiohttp import web

from .bootstrap import build_node
from .config import NodeConfig
from .ecs.identity import IdentityError, ecs_identity
from .ice.public_address import discover_public_ip
from .signaling.http import make_app
from .telemetry.logs import configure_logging

logger = logging.getLogger(__name__)


def main() -> int:
    """Read the environment, start the HTTP server, serve until stopped."""
    configure_logging(os.environ.get("DROPON_NODE_ID", "node-1"))
    try:
        config = NodeConfig.from_env()
    except ValueError as exc:
        logger.error("media_node: %s", exc)
        return 2
    return asyncio.run(serve(config))


async def serve(config: NodeConfig) -> int:
    address, source = await discover_public_ip(os.environ)
    if address and address != config.ice_public_ip:
        try:
            config = dataclasses.replace(config, ice_public_ip=address)
        except ValueError as exc:  # e.g. a public address while in loopback mode
            logger.error("media_node: %s (from %s)", exc, source)
            return 2
        logger.info("announcing public address %s (from %s)", address, source)
    try:  # on ECS, each task is a node of its own
        identity = await ecs_identity(os.environ, config.ice_public_ip, config.port)
    except IdentityError as exc:
        logger.error("media_node: %s", exc)
        return 2
    if identity:
        config = dataclasses.replace(config, **identity)
        configure_logging(config.node_id)
        logger.info("node %s at %s (from the ECS task)", config.node_id, config.public_url)
    logger.info("starting %r", config)
    try:
        node = build_node(config)
    except RuntimeError as exc:  # e.g. DROPON_FANOUT=c without the C module
        logger.error("media_node: %s", exc)
        return 2
    runner = web.AppRunner(make_app(node), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    # what start-up made (modules, the app) lives as long as the process: frozen out of
    # the collector's sight, a full collection scans only what came since (a shorter
    # pause of the loop, whichever thread trips it)
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, stop, signum)
    await stop.wait()
    drain = asyncio.ensure_future(node.drain(config.drain_seconds))
    stop.clear()
    forced = asyncio.ensure_future(stop.wait())  # a second signal
    await asyncio.wait([drain, forced], return_when=asyncio.FIRST_COMPLETED)
    if not drain.done():
        logger.warning("second signal: exiting without finishing the drain")
        drain.cancel()
    forced.cancel()
    await runner.cleanup()
    logger.info("stopped")
    return 0


def _on_signal(stop: asyncio.Event, signum: int) -> None:
    logger.info("%s received", signal.Signals(signum).name)
    stop.set()


if __name__ == "__main__":
    sys.exit(main())
