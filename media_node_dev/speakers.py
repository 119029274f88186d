"""Speakers in a process of their own, so that a measurement of the node's process counts
the node alone: ``python -m media_node_dev.speakers URL TOKEN [TOKEN ...]``.

Each token is one speaker publishing a pre-encoded VP8 clip (:class:`LoopedVideo`, no
encoding cost) and Opus (:class:`EncodedAudioSource`) to the node's WHIP endpoint
``URL``. Prints ``ready`` once every speaker is connected, then runs until its standard
input closes (or SIGTERM), and closes the connections.
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from media_node.ice.loopback import restrict_to_loopback
from media_node_dev.client import WhipClient
from media_node_dev.loadcheck import LoopedVideo
from media_node_dev.sources import EncodedAudioSource


async def run(url: str, tokens: list[str], width: int, height: int, fps: int,
              bitrate: int) -> None:
    restrict_to_loopback()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.read1() or done.set())
    clients = []
    for token in tokens:
        client = WhipClient(url, token)
        client.publish(LoopedVideo(width, height, fps, bitrate))
        client.publish(EncodedAudioSource())
        await client.connect()
        clients.append(client)
    print("ready", flush=True)
    await done.wait()
    for client in clients:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the node's WHIP URL, e.g. http://127.0.0.1:PORT/rooms/r/whip")
    parser.add_argument("tokens", nargs="+", help="one media token per speaker")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=850_000)
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    asyncio.run(run(args.url, args.tokens, width, height, args.fps, args.bitrate))


if __name__ == "__main__":
    main()
