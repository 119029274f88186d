"""Join burst benchmark (issue 9): N people click "join" at once, over real HTTP.

Two control planes run side by side on one embedded DynamoDB (``python -m
devstack.dynamodb``, in memory), each ``python -m devstack.local_api`` as ``make run``
starts it, with one media node registered by heartbeat (so an SFU join assigns it):

- ``group``: the defaults, group commit per room and the fast-forwarding room cache;
- ``baseline``: the retry loop as it was, ``DROPON_GROUP_COMMIT=n DROPON_ROOM_CACHE=0``
  (every join loads the whole room, saves alone, and reloads it all on a conflict).

For each N, rooms of 64 seats (fewer for N < 64) that hold one participant get their
seats' worth of joins at once from N threads, each on its own connection, released by
a barrier: exactly seats - 1 are admitted per room and one is refused ``room_full``.
Runs alternate between the two control planes, so both share the machine's mood.

Then a save's latency on the embedded DynamoDB itself: one 2-put transaction (an event
and its notification, as the event store writes them) in a table of 10 items and in
one of 100,000.

    python bench/join_burst.py                         # N = 16, 64, 256; 3 runs each
    python bench/join_burst.py --sizes 64 --runs 5 --items 0
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from chalicelib.api.auth import mint_admin_token  # noqa: E402
from chalicelib.api.node_tokens import mint_node_token  # noqa: E402
from devstack.dynamodb import embedded_dynamodb, endpoint  # noqa: E402
from devstack.process import ServerProcess, free_port  # noqa: E402

KEY, SECRET, NODE_SECRET = "bench", "bench-secret-" + "z" * 24, "node-secret-" + "n" * 24
SEATS = 64
TIMEOUT = 60  # seconds a client waits for an answer; the old loop can take longer at N >= 64
MODES = {"group": {}, "baseline": {"DROPON_GROUP_COMMIT": "n", "DROPON_ROOM_CACHE": "0"}}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="16,64,256", help="concurrent joins per burst")
    p.add_argument("--runs", type=int, default=3, help="bursts per size and mode")
    p.add_argument("--items", type=int, default=100_000,
                   help="items in the big table of the save-latency part (0: skip it)")
    p.add_argument("--saves", type=int, default=200, help="saves timed per table size")
    return p.parse_args(argv)


class ControlPlane:
    """One ``devstack.local_api`` process and a client for it."""

    def __init__(self, name: str, env: dict, logs: Path):
        self.name, self.port = name, free_port()
        self.process = ServerProcess(
            [sys.executable, "-m", "devstack.local_api", "--host", "127.0.0.1",
             "--port", str(self.port)], self.port, cwd=ROOT, env=env,
            log_path=logs / f"api-{name}.log").start()
        self.admin = mint_admin_token(KEY, SECRET, 3600)

    def call(self, method: str, path: str, token: str, body=None) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=json.dumps(body) if body is not None else None,
                               headers={"Authorization": f"Bearer {token}",
                                        "Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    def admin_call(self, method: str, path: str, body=None) -> dict:
        status, data = self.call(method, path, self.admin, body)
        if status >= 300:
            raise RuntimeError(f"{self.name}: {method} {path} -> {status} {data}")
        return data

    def room_holding_one(self, seats: int) -> tuple[str, list[str]]:
        """A room of ``seats`` seats with its host joined, and a token for each joiner."""
        room = self.admin_call("POST", "/rooms", {"name": "burst", "persistent": True,
                                                  "policy": {"maxParticipants": seats}})
        rid = room["id"]
        tokens = [self.admin_call("POST", f"/rooms/{rid}/tokens",
                                  {"identity": f"u{i}", "role": "host" if i == 0 else "speaker"})["token"]
                  for i in range(seats + 1)]
        status, data = self.call("POST", f"/rooms/{rid}/join", tokens[0])
        assert status == 200, data
        return rid, tokens[1:]

    def stop(self) -> None:
        self.process.stop()


def heartbeats(planes: list[ControlPlane], stop: threading.Event) -> None:
    """Keep one media node alive on every control plane (they share its table)."""
    token = mint_node_token(NODE_SECRET, "bench-node", ttl=3600)
    report = {"url": "http://127.0.0.1:9", "rooms": 0, "participants": 0, "streams": 0,
              "capacity": 1000, "cpu": 0.1}
    while not stop.is_set():
        for plane in planes:
            plane.call("POST", "/nodes/bench-node/heartbeat", token, report)
        stop.wait(2)


def burst(plane: ControlPlane, size: int) -> dict:
    """``size`` joins at once into rooms of up to 64 seats; their outcomes and times."""
    seats = min(SEATS, size)
    rooms = [plane.room_holding_one(seats) for _ in range(max(1, size // SEATS))]
    jobs = [(rid, token) for rid, tokens in rooms for token in tokens]
    barrier = threading.Barrier(len(jobs) + 1)

    def join(job):
        rid, token = job
        barrier.wait()
        started = time.perf_counter()
        try:
            status, data = plane.call("POST", f"/rooms/{rid}/join", token)
            outcome = "joined" if status == 200 else data.get("error", {}).get("code", status)
        except OSError as error:  # a reset or refused connection
            outcome = f"connection error ({type(error).__name__})"
        return outcome, time.perf_counter() - started, time.perf_counter()

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(join, job) for job in jobs]
        barrier.wait()
        released = time.perf_counter()
        results = [f.result() for f in futures]
    outcomes = Counter(o for o, _, _ in results)
    expected = {"joined": len(rooms) * (seats - 1), "room_full": len(rooms)}
    return {"wall": max(end for _, _, end in results) - released,
            "latencies": [lat for _, lat, _ in results], "outcomes": outcomes,
            "ok": outcomes == expected}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def save_latencies(url: str, sizes: tuple[int, int], saves: int) -> list[list[float]]:
    """Seconds per 2-put TransactWriteItems into tables that hold ``sizes`` items,
    alternating between the tables so that both share the machine's mood."""
    ddb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench",
                       config=Config(max_pool_connections=16, retries={"max_attempts": 1}))
    payload = {"S": "x" * 300}  # about an event's size
    names = []
    for items in sizes:
        name = f"size{items}-{uuid4().hex[:6]}"
        names.append(name)
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "N"}])

        def fill(start: int, name=name, items=items) -> None:
            ddb.batch_write_item(RequestItems={name: [
                {"PutRequest": {"Item": {"pk": {"S": f"room-{i // 100}"}, "sk": {"N": str(i)},
                                         "d": payload}}}
                for i in range(start, min(items, start + 25))]})

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(fill, range(0, items, 25)))
    timings = [[] for _ in sizes]
    for i in range(saves):
        for name, times in zip(names, timings):
            started = time.perf_counter()
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": name, "Item": {"pk": {"S": f"new-{i}"}, "sk": {"N": "1"}, "d": payload},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": name, "Item": {"pk": {"S": f"note-{i}"}, "sk": {"N": "1"}, "d": payload},
                         "ConditionExpression": "attribute_not_exists(pk)"}}])
            times.append(time.perf_counter() - started)
    return timings


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print("command: python bench/join_burst.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    logs = ROOT / ".data" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    results = {(mode, size): [] for size in sizes for mode in MODES}
    with embedded_dynamodb(log_path=logs / "dynamodb.log") as store:
        base = {**os.environ, "PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb",
                "CREATE_TABLE": "y", "DYNAMODB_TABLE_PREFIX": f"burst{uuid4().hex[:6]}",
                "AWS_ENDPOINT_URL": endpoint(store), "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                "DROPON_API_KEY": KEY, "DROPON_API_SECRET": SECRET, "DROPON_NODE_SECRET": NODE_SECRET}
        planes = {mode: ControlPlane(mode, {**base, **extra}, logs) for mode, extra in MODES.items()}
        stop = threading.Event()
        beating = threading.Thread(target=heartbeats, args=(list(planes.values()), stop), daemon=True)
        beating.start()
        try:
            for plane in planes.values():  # warm up: imports, connections, tables
                burst(plane, 8)
            for _ in range(args.runs):
                for size in sizes:
                    for mode, plane in planes.items():
                        results[(mode, size)].append(burst(plane, size))
                        print(".", end="", flush=True)
            print()
        finally:
            stop.set()
            for plane in planes.values():
                plane.stop()
        report(results, sizes)
        if args.items:
            small, big = save_latencies(endpoint(store), (10, args.items), args.saves)
            print(f"\nsave latency on the embedded DynamoDB (2-put TransactWriteItems, {args.saves} "
                  "each, alternating between the tables), ms")
            print(f"{'items':>8} {'p50':>7} {'p99':>7}")
            for label, values in ((10, small), (args.items, big)):
                print(f"{label:>8} {pct(values, .5) * 1000:>7.2f} {pct(values, .99) * 1000:>7.2f}")
            print(f"ratio p50 {args.items} / 10 items: {pct(big, .5) / pct(small, .5):.2f}x (target <= 1.5x)")
    return 0


def report(results: dict, sizes: list[int]) -> None:
    print("\njoin bursts over HTTP; per mode the median of the runs' wall times, and the "
          f"join latencies of all runs pooled (s); '>' marks runs with joins that hit the "
          f"client's {TIMEOUT} s timeout")
    print(f"{'N':>4} {'mode':>9} {'runs':>4} {'wall':>6} {'p50':>6} {'p99':>6} {'max':>6} "
          f"{'exact':>5}  outcomes (last run)")
    for size in sizes:
        walls = {}
        bounded = False
        for mode in MODES:
            runs = results[(mode, size)]
            lat = [x for r in runs for x in r["latencies"]]
            walls[mode] = statistics.median(r["wall"] for r in runs)
            exact = sum(r["ok"] for r in runs)
            # a join that hit the client's timeout makes the figures lower bounds
            cut = any(str(o).startswith("connection error") for r in runs for o in r["outcomes"])
            bounded = bounded or (cut and mode == "baseline")
            mark = ">" if cut else " "
            print(f"{size:>4} {mode:>9} {len(runs):>4} {mark}{walls[mode]:>5.2f} {pct(lat, .5):>6.2f} "
                  f"{pct(lat, .99):>6.2f} {max(lat):>6.2f} {exact:>2}/{len(runs):<2}  "
                  f"{dict(runs[-1]['outcomes'])}")
        print(f"{'':>4} baseline/group wall ratio: {'>' if bounded else ''}"
              f"{walls['baseline'] / walls['group']:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
