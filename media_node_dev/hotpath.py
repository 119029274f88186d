"""CPU per forwarded packet, direct path against aiortc's pack path, in one process.

``python -m media_node_dev.hotpath --low 4 --high 16 --seconds 8``

Node, speakers and listeners share one event loop; listeners count RTP at their
sockets (about a microsecond a packet). The marginal cost per forwarded packet is
``(CPU(high) - CPU(low)) / (packets(high) - packets(low))`` of this process's CPU time,
which excludes time the process spends waiting for a CPU, so it holds up better than
wall-clock figures when other work shares the machine. Fixed costs (ingest, RTCP,
the speakers' own sending) cancel out in the difference.
"""
from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time

from media_node.ice.loopback import enlarge_socket_buffers, restrict_to_loopback
from media_node_dev.client import WhipClient
from media_node_dev.loadcheck import LoopedVideo, count_packets
from media_node_dev.local import running_node
from media_node_dev.sources import EncodedAudioSource


def udp_receive_errors() -> int:
    with open("/proc/net/snmp") as snmp:
        rows = [line.split() for line in snmp if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


async def measure(mode: str, listeners: int, seconds: float) -> tuple[float, int, int]:
    """``(cpu_seconds, packets_counted, udp_drops)`` over the window."""
    async with running_node("hotpath", secrets.token_hex(32), forwarding=mode) as n:
        clients: list[WhipClient] = []
        for i in range(2):
            speaker = n.client("r", f"s{i}", "speaker")
            speaker.publish(LoopedVideo(640, 480, 30, 800_000))
            speaker.publish(EncodedAudioSource())
            await speaker.connect()
            clients.append(speaker)
        for i in range(listeners):
            listener = n.client("r", f"l{i}", "audience")
            listener.receive(audio=2, video=2)
            await listener.connect()
            clients.append(listener)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
                c.pc.connectionState != "connected" for c in clients):
            await asyncio.sleep(0.2)
        counter = [0]
        for c in clients:
            enlarge_socket_buffers(c.pc)
        for listener in clients[2:]:
            count_packets(listener, counter)
        await asyncio.sleep(3)  # renegotiations, first keyframes (the clip loops every 2 s)
        drops0, packets0, cpu0 = udp_receive_errors(), counter[0], time.process_time()
        await asyncio.sleep(seconds)
        result = (time.process_time() - cpu0, counter[0] - packets0,
                  udp_receive_errors() - drops0)
        for c in clients:
            await c.close(hang_up=False)
        return result


async def main(args) -> None:
    restrict_to_loopback()
    rows = {}
    for mode in args.modes:
        low = await measure(mode, args.low, args.seconds)
        high = await measure(mode, args.high, args.seconds)
        marginal = (high[0] - low[0]) / max(high[1] - low[1], 1)
        rows[mode] = marginal
        print(f"{mode:>6}: N={args.low}: {low[1] / args.seconds:7.0f} pkt/s, "
              f"CPU {low[0] / args.seconds:.3f} s/s, drops {low[2]};  N={args.high}: "
              f"{high[1] / args.seconds:7.0f} pkt/s, CPU {high[0] / args.seconds:.3f} s/s, "
              f"drops {high[2]};  marginal {1e6 * marginal:6.1f} us/packet", flush=True)
    if len(rows) == 2:
        a, b = args.modes
        print(f"ratio {a}/{b}: {rows[a] / rows[b]:.2f}")
    print("rerun: .venv/bin/python -m media_node_dev.hotpath " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--low", type=int, default=4)
    parser.add_argument("--high", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--modes", nargs="+", default=["direct", "pack"])
    asyncio.run(main(parser.parse_args()))
