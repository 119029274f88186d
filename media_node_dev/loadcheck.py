"""Measure the node's CPU per forwarded packet, direct path against aiortc's pack path.

``python -m media_node_dev.loadcheck --speakers 2 --listeners 62 --seconds 20``

Starts ``python -m media_node`` (standalone, loopback) pinned to CPU 0 for each
forwarding mode in turn, drives it from this process pinned to CPU 1, and prints
packets/s out, loss, the node's CPU, and µs per forwarded packet, with the ratio
between the modes. Listeners count RTP packets below the jitter buffer, so the
clients are not the bottleneck. Pinning can be turned off (``--server-cpu -1 --client-cpu -1``) when other work
shares the CPUs. This is the node's own check; the load benchmark
with Janus and MediaRelay baselines is ``bench/sfu_load.py``.
"""
from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import secrets
import socket
import subprocess
import sys
import time

import av
from aiortc import MediaStreamTrack

from media_node.ice.loopback import enlarge_socket_buffers, restrict_to_loopback
from media_node.internals import aioice_internals, aiortc_internals
from media_node_dev.client import WhipClient
from media_node_dev.sources import EncodedAudioSource
from media_node_dev.tokens import mint_media_token


class LoopedVideo(MediaStreamTrack):
    """A pre-encoded VP8 clip (keyframe first) replayed at ``fps``: no encoding cost."""

    kind = "video"

    def __init__(self, width: int, height: int, fps: int, bitrate: int) -> None:
        super().__init__()
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
        codec.time_base, codec.framerate = fractions.Fraction(1, fps), fps
        codec.bit_rate, codec.gop_size, codec.thread_count = bitrate, 10_000, 1
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self._clip = []
        chroma = bytes([128]) * (width * height // 4)
        for i in range(2 * fps):
            # a moving gradient with a noisy patch: about the size of camera frames
            row = bytes((x + 4 * i) % 256 for x in range(width))
            luma = bytearray(row * height)
            for y in range(48):
                start = (100 + y) * width + (8 * i) % (width - 160)
                luma[start:start + 160] = os.urandom(160)
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane, data in zip(frame.planes, (bytes(luma), chroma, chroma)):
                plane.update(data)
            frame.pts = i
            self._clip += [bytes(p) for p in codec.encode(frame)]
        self._fps, self._i, self._start = fps, 0, None

    async def recv(self) -> av.Packet:
        self._start = self._start or time.monotonic()
        delay = self._start + self._i / self._fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._clip[self._i % len(self._clip)])
        packet.pts, packet.time_base = self._i * 3000, fractions.Fraction(1, 90000)
        self._i += 1
        return packet


def count_packets(client: WhipClient, counter: list[int]) -> None:
    """Count RTP datagrams as they reach the client's socket, before SRTP and aiortc.

    Only media packets are swallowed; STUN (consent) and RTCP still reach aiortc,
    so the connection stays alive. The client then costs ~1 us per packet, and loss
    is the node's, not the load generator's.
    """
    dtls = client.pc.getTransceivers()[0].receiver.transport
    for protocol in aioice_internals.protocols(aiortc_internals.ice_connection(dtls)):
        original = protocol.datagram_received

        def received(data, addr, original=original):
            if len(data) > 12 and 128 <= data[0] < 192 and not 192 <= data[1] <= 223:
                counter[0] += 1  # RTP (RFC 5761 demultiplexing)
            else:
                original(data, addr)
        protocol.datagram_received = received


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_listening(port: int, node: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and node.poll() is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError("media node did not start")


async def run_mode(mode: str, args) -> dict:
    secret, port = secrets.token_hex(32), free_port()
    env = dict(os.environ, DROPON_NODE_SECRET=secret, DROPON_NODE_ID="load", DROPON_CONTROL_URL="",
               DROPON_NODE_PORT=str(port), DROPON_FORWARDING=mode, DROPON_ICE_LOOPBACK_ONLY="1")
    profile = ["-m", "cProfile", "-o", f"/tmp/media_node-{mode}.prof"] if args.profile else []
    pin = ["taskset", "-c", str(args.server_cpu)] if args.server_cpu >= 0 else []
    node = subprocess.Popen([*pin, sys.executable, *profile, "-m", "media_node"],
                            env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=open(f"/tmp/media_node-loadcheck-{mode}.log", "w"))
    clients: list[WhipClient] = []
    try:
        await wait_listening(port, node)
        url = f"http://127.0.0.1:{port}/rooms/load/whip"

        def client(pid, role):
            c = WhipClient(url, mint_media_token(secret, "load", "load", pid, role))
            clients.append(c)
            return c
        for i in range(args.speakers):
            speaker = client(f"s{i}", "speaker")
            speaker.publish(LoopedVideo(args.width, args.height, args.fps, args.bitrate))
            speaker.publish(EncodedAudioSource())
            await speaker.connect()
        counter = [0]
        for i in range(args.listeners):
            listener = client(f"l{i}", "audience")
            listener.receive(audio=args.speakers, video=args.speakers)
            await listener.connect()
        deadline = time.monotonic() + 60  # settle: ICE, DTLS, first keyframes
        while time.monotonic() < deadline and any(
                c.pc.connectionState != "connected" for c in clients):
            await asyncio.sleep(0.5)
        connected = sum(c.pc.connectionState == "connected" for c in clients)
        for c in clients:
            enlarge_socket_buffers(c.pc)
        for listener in clients[args.speakers:]:
            count_packets(listener, counter)
        await asyncio.sleep(3)
        sent0 = sum(aiortc_internals.sent_packets(s.pc.getSenders()[0].transport)
                    for s in clients[:args.speakers])
        got0, cpu0, t0 = counter[0], cpu_seconds(node.pid), time.monotonic()
        await asyncio.sleep(args.seconds)
        elapsed = time.monotonic() - t0
        got, cpu = counter[0] - got0, cpu_seconds(node.pid) - cpu0
        sent = sum(aiortc_internals.sent_packets(s.pc.getSenders()[0].transport)
                   for s in clients[:args.speakers]) - sent0
        expected = sent * args.listeners  # every publisher packet, to every listener
        return {"mode": mode, "connected": connected, "pps_out": got / elapsed, "cpu": cpu / elapsed,
                "us_per_packet": 1e6 * cpu / max(got, 1),
                "loss": max(0.0, 1 - got / max(expected, 1))}
    finally:
        for c in clients:
            await c.close(hang_up=False)
        node.terminate()
        node.wait(10)


LOADAVG = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"


async def main(args) -> None:
    restrict_to_loopback()
    if args.client_cpu >= 0:
        os.sched_setaffinity(0, {args.client_cpu})
    results = [await run_mode(mode, args) for mode in args.modes]
    print(f"{args.speakers} speakers -> {args.listeners} listeners, VP8 {args.width}x{args.height}"
          f"@{args.fps} {args.bitrate // 1000} kbps + Opus, {args.seconds}s, "
          f"node CPU {args.server_cpu}, clients CPU {args.client_cpu} (-1: not pinned), "
          f"load average before: {LOADAVG}")
    for r in results:
        print(f"  {r['mode']:>6}: {r['pps_out']:8.0f} pkt/s out  loss {100 * r['loss']:5.2f}%  "
              f"node CPU {r['cpu']:.3f} s/s  {r['us_per_packet']:6.1f} us/packet  "
              f"({r['connected']}/{args.speakers + args.listeners} peers connected)")
    if len(results) == 2:
        print(f"  ratio {results[0]['mode']}/{results[1]['mode']} us/packet: "
              f"{results[0]['us_per_packet'] / results[1]['us_per_packet']:.2f}")
    print("rerun: .venv/bin/python -m media_node_dev.loadcheck " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=2)
    parser.add_argument("--listeners", type=int, default=62)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=800_000)
    parser.add_argument("--server-cpu", type=int, default=0, help="-1: do not pin")
    parser.add_argument("--client-cpu", type=int, default=1, help="-1: do not pin")
    parser.add_argument("--profile", action="store_true", help="cProfile the node")
    parser.add_argument("--modes", nargs="+", default=["direct", "pack"])
    asyncio.run(main(parser.parse_args()))
