"""``python -m media_node``: run one media node until SIGINT/SIGTERM."""
from __future__ import annotations

import logging
import sys

from aiohttp import web

from .bootstrap import build_node
from .config import NodeConfig
from .signaling.http import make_app


def main() -> int:
    """Read the environment, start the HTTP server, serve until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = NodeConfig.from_env()
    except ValueError as exc:
        print(f"media_node: {exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("starting %r", config)
    try:
        node = build_node(config)
    except RuntimeError as exc:  # e.g. DROPON_FANOUT=c without the C module
        print(f"media_node: {exc}", file=sys.stderr)
        return 2
    web.run_app(make_app(node), host=config.host, port=config.port,
                print=None, handle_signals=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
