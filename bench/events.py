"""Real-time events benchmark (issue 12): event-to-client latency over the room's
WebSocket with 1, 64 and 1,000 sockets on one room, the cost per delivered message, and
the long poll (``GET /rooms/{roomId}/events?wait=``) in the same run as the baseline.

The local stack is started here, each part in its own process on 127.0.0.1: the embedded
DynamoDB, ``devstack.local_api`` (chalice local) and ``devstack.ws_gateway`` (the socket
handlers and the stream poller). The sockets read with admin tokens (every event); one
joined participant raises and lowers a hand, one event at a time: the next event is
made once every reader has the last. Latency runs from just before the HTTP request
that causes the event to the moment a reader has the message, so it includes the
write. Cost: CPU seconds of the gateway and of the DynamoDB server per delivered message.

    python bench/events.py                          # 1, 64, 1000 sockets
    python bench/events.py --sockets 1,64 --events 50
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402

from chalicelib.api.auth import mint_admin_token  # noqa: E402
from devstack.dynamodb import embedded_dynamodb, endpoint  # noqa: E402
from tests.integration.realtime_support import KEY, SECRET, Stack  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sockets", default="1,64,1000", help="sockets on the room, per run")
    p.add_argument("--events", type=int, default=40, help="events measured per run")
    p.add_argument("--warmup", type=int, default=3, help="unmeasured events first")
    p.add_argument("--longpoll", default="1,64", help="long-poll readers, per baseline run")
    return p.parse_args(argv)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Driver:
    """A room with one joined participant whose hand makes the events."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.room = stack.room()
        self.token = stack.token(self.room, "driver")
        stack.ok("POST", f"/rooms/{self.room}/join", token=self.token)
        self.raised = False

    def event(self) -> float:
        """Make one event; returns the time just before its request."""
        start = time.perf_counter()
        self.stack.ok("DELETE" if self.raised else "POST", f"/rooms/{self.room}/hand",
                      token=self.token)
        self.raised = not self.raised
        return start


async def socket_run(stack: Stack, readers: int, events: int, warmup: int, pids) -> dict:
    driver = Driver(stack)
    admin = mint_admin_token(KEY, SECRET, 3600)
    url = f"{stack.ws_url}?roomId={driver.room}&token={admin}"
    sockets = []
    for i in range(0, readers, 20):  # open in batches: the handshakes are not measured
        sockets += await asyncio.gather(*[connect(url, open_timeout=120, max_queue=None)
                                          for _ in range(min(20, readers - i))])
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    cpu_before = [cpu_seconds(p) for p in pids]
    for n in range(warmup + events):
        start = await loop.run_in_executor(None, driver.event)
        arrived = await asyncio.gather(*[first_message(s) for s in sockets])
        if n >= warmup:
            latencies += [t - start for t in arrived]
    cpu = sum(cpu_seconds(p) - b for p, b in zip(pids, cpu_before))
    for s in sockets:
        await s.close()
    return {"latencies": latencies, "messages": readers * (warmup + events), "cpu": cpu}


async def first_message(socket) -> float:
    while True:
        message = json.loads(await socket.recv())
        if message["type"] in ("HAND_RAISED", "HAND_LOWERED"):
            return time.perf_counter()


def longpoll_run(stack: Stack, readers: int, events: int, warmup: int, pids) -> dict:
    driver = Driver(stack)
    admin = mint_admin_token(KEY, SECRET, 3600)
    after = stack.ok("GET", f"/rooms/{driver.room}")["version"]
    latencies: list[float] = []
    cpu_before = [cpu_seconds(p) for p in pids]
    for n in range(warmup + events):
        arrived: list[float] = []
        lock = threading.Lock()

        def poll(start_after=after):
            cursor = start_after
            while True:
                request = urllib.request.Request(
                    f"{stack.api_url}/rooms/{driver.room}/events?after={cursor}&wait=20",
                    headers={"Authorization": f"Bearer {admin}"})
                with urllib.request.urlopen(request, timeout=60) as response:
                    body = json.loads(response.read())
                cursor = body["nextAfter"]
                if body["events"]:
                    with lock:
                        arrived.append(time.perf_counter())
                    return

        threads = [threading.Thread(target=poll) for _ in range(readers)]
        for t in threads:
            t.start()
        time.sleep(0.3)  # the polls are waiting before the event is made
        start = driver.event()
        for t in threads:
            t.join()
        after += 1
        if n >= warmup:
            latencies += [t - start for t in arrived]
    cpu = sum(cpu_seconds(p) - b for p, b in zip(pids, cpu_before))
    return {"latencies": latencies, "messages": readers * (warmup + events), "cpu": cpu}


def line(name: str, result: dict) -> dict:
    lat = [x * 1000 for x in result["latencies"]]
    row = {"path": name, "p50_ms": round(statistics.median(lat), 1),
           "p99_ms": round(pct(lat, 0.99), 1), "max_ms": round(max(lat), 1),
           "cpu_ms_per_message": round(result["cpu"] * 1000 / result["messages"], 3)}
    print(f"  {name:<22} p50 {row['p50_ms']:>8} ms   p99 {row['p99_ms']:>8} ms   "
          f"max {row['max_ms']:>8} ms   {row['cpu_ms_per_message']:>7} CPU ms/message", flush=True)
    return row


def main(argv=None) -> int:
    args = parse_args(argv)
    for name, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(name, value)  # the embedded store only; never an account
    print("rerun: python " + " ".join(shlex.quote(a) for a in
                                     ["bench/events.py", *(argv or sys.argv[1:])]), flush=True)
    logs = Path(tempfile.mkdtemp(prefix="bench-events-"))
    with embedded_dynamodb(log_path=logs / "dynamodb.log") as dynamodb:
        stack = Stack(endpoint(dynamodb), logs).start()
        try:
            pids = [stack.gateway.proc.pid, dynamodb.proc.pid]
            api_pids = [stack.api.proc.pid, dynamodb.proc.pid]
            rows = []
            for n in [int(x) for x in args.longpoll.split(",") if x]:
                rows.append(line(f"long poll, {n} readers",
                                 longpoll_run(stack, n, args.events, args.warmup, api_pids)))
            for n in [int(x) for x in args.sockets.split(",") if x]:
                rows.append(line(f"socket, {n} sockets", asyncio.run(
                    socket_run(stack, n, args.events, args.warmup, pids))))
        finally:
            stack.stop()
    base = rows[0]
    print(f"\nbaseline: {base['path']} (same run); p50 ratio socket/baseline:")
    for row in rows[1:]:
        print(f"  {row['path']:<22} {row['p50_ms'] / base['p50_ms']:.2f}x")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
