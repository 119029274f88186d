"""The load generator: a process of publishers or of subscribers, driven over stdio.

Publishers print one `ready` line with their feed ids, then send until stdin closes.
Subscribers read JSON commands (`add`, `snapshot`, `stop`) and answer each with one line.
Run with `python -m bench.sfu.loadclient`; the benchmark pins it to its own CPU.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import aiohttp
from aiortc import RTCPeerConnection, RTCRtpSender

from .counter import SubscriberCounter
from .ice import restrict_host_addresses, rtc_configuration
from .media import EncodedMedia, PacedPacketTrack
from .signaling import JanusSession, JanusSignaling, WhipSignaling


def emit(**event) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class LoadClient:
    """Peer connections of one role against one target."""

    def __init__(self, args, http: aiohttp.ClientSession):
        self.args, self.http = args, http
        self.peers: list[tuple[RTCPeerConnection, object, SubscriberCounter | None]] = []
        self.janus: JanusSession | None = None
        self._janus_lock = asyncio.Lock()
        self.failed = 0

    async def signaling(self):
        a = self.args
        if a.target == "janus":
            async with self._janus_lock:  # one session for all handles
                if self.janus is None:
                    session = JanusSession(self.http, a.url)
                    await session.create()
                    self.janus = session
            return JanusSignaling(self.janus, int(a.room), a.feeds)
        return WhipSignaling(self.http, a.url, a.room, os.environ["DROPON_NODE_SECRET"],
                             a.node_id, data_channel=a.data_channel)

    def _watch(self, pc: RTCPeerConnection) -> None:
        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState == "failed":
                self.failed += 1
                await pc.close()

    async def publish(self, media: EncodedMedia) -> int | None:
        pc = RTCPeerConnection(rtc_configuration())
        self._watch(pc)
        start: list[float] = []
        for kind in ("audio", "video"):
            track = PacedPacketTrack(kind, media, start)
            transceiver = pc.addTransceiver(track, direction="sendonly")
            if kind == "video":
                _prefer(transceiver, "video/VP8")
                _obey_keyframe_requests(transceiver.sender, track)
        sig = await self.signaling()
        await sig.publish(pc)
        self.peers.append((pc, sig, None))
        return getattr(sig, "feed_id", None)

    async def subscribe(self) -> SubscriberCounter:
        pc = RTCPeerConnection(rtc_configuration())
        self._watch(pc)
        pairs = min(self.args.recv_transceivers, self.args.publishers)
        for _ in range(pairs):
            pc.addTransceiver("audio", direction="recvonly")
        for _ in range(pairs):
            _prefer(pc.addTransceiver("video", direction="recvonly"), "video/VP8")
        counter = SubscriberCounter()
        sig = await self.signaling()
        await sig.subscribe(pc, counter)
        self.peers.append((pc, sig, counter))
        return counter

    async def add_subscribers(self, count: int, timeout: float) -> dict:
        gate = asyncio.Semaphore(4)  # don't starve running streams with handshakes

        async def one():
            async with gate:
                return await self.subscribe()

        results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
        counters = [r for r in results if isinstance(r, SubscriberCounter)]
        errors = [repr(r)[:200] for r in results if not isinstance(r, SubscriberCounter)]
        deadline = time.monotonic() + timeout
        want = self.args.publishers
        while time.monotonic() < deadline and any(c.first_frame_s(want) is None for c in counters):
            await asyncio.sleep(0.1)
        first = [c.first_frame_s(want) for c in counters]
        return {"first_frame_s": [f for f in first if f is not None],
                "no_frame": sum(f is None for f in first), "errors": errors}

    def snapshot(self) -> dict:
        return {"t": time.monotonic(), "cpu": time.process_time(), "failed": self.failed,
                "udp_drops": udp_receive_drops(),
                "subs": [c.snapshot() for _, _, c in self.peers if c is not None]}

    async def close(self) -> None:
        for pc, sig, _ in self.peers:
            await sig.close()
            await pc.close()
        if self.janus:
            await self.janus.close()


def udp_receive_drops() -> int:
    """Datagrams this network namespace dropped for full socket buffers."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(dict(zip(rows[0], rows[1]))["RcvbufErrors"])


def _prefer(transceiver, mime: str) -> None:
    codecs = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    transceiver.setCodecPreferences(
        [c for c in codecs if c.mimeType == mime] + [c for c in codecs if c.mimeType == "video/rtx"])


def _obey_keyframe_requests(sender, track: PacedPacketTrack) -> None:
    # aiortc ignores PLI/FIR on the pack path; a real encoder would answer them
    original = sender._send_keyframe

    def send_keyframe():
        original()
        track.request_keyframe()

    sender._send_keyframe = send_keyframe


async def stdin_lines():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        yield line


async def run(args) -> None:
    restrict_host_addresses([args.ice_address])
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        client = LoadClient(args, http)
        try:
            if args.mode == "publish":
                media = EncodedMedia.load()
                feeds = [await client.publish(media) for _ in range(args.publishers)]
                emit(event="ready", feeds=feeds)
                async for _ in stdin_lines():
                    pass
                return
            emit(event="ready")
            async for line in stdin_lines():
                cmd = json.loads(line)
                if cmd["cmd"] == "add":
                    emit(event="added", **await client.add_subscribers(cmd["count"], cmd["wait"]))
                elif cmd["cmd"] == "snapshot":
                    emit(event="snapshot", **client.snapshot())
                else:
                    break
        finally:
            await client.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mode", choices=["publish", "subscribe"], required=True)
    p.add_argument("--target", choices=["node", "relay", "janus"], required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--room", required=True)
    p.add_argument("--node-id", default="bench-node")
    p.add_argument("--publishers", type=int, default=1)
    p.add_argument("--feeds", type=lambda s: [int(x) for x in s.split(",") if x], default=[])
    p.add_argument("--ice-address", default="127.0.0.1")
    p.add_argument("--data-channel", action="store_true")
    p.add_argument("--recv-transceivers", type=int, default=0,
                   help="audio+video recvonly pairs in the first offer (at most --publishers)")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
