"""API latency benchmark (issue 3): ``join`` and ``raise hand`` through the HTTP handler.

Rooms with 10 prior events (the baseline) and with 10,000, with snapshots on
(``DROPON_SNAPSHOT_INTERVAL``) and off, all on the embedded DynamoDB (in memory, started here).
Requests go through chalice's local API Gateway into the Chalice app, as ``chalice
local`` serves them. Both settings read the same tables: "off" is a RoomsApplication with
snapshotting disabled, so it replays every event; "on" loads the latest snapshot.

    python bench/api.py                       # defaults: 10 and 10000 events, ~2.5 min
    python bench/api.py --events 10,1000 --samples 20

Each small-room sample uses a fresh room with exactly 10 prior events. The big room is
built once: its events are made in memory (hands raised and lowered) and written with
parallel transactions, then snapshotted at its last version.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalice.config import Config  # noqa: E402
from chalice.local import LocalGateway  # noqa: E402

from chalicelib import bootstrap  # noqa: E402
from chalicelib.api.auth import mint_admin_token, mint_participant_token  # noqa: E402
from chalicelib.application import Actor, RoomsApplication  # noqa: E402
from chalicelib.config import Settings  # noqa: E402
from devstack.dynamodb import embedded_dynamodb, endpoint  # noqa: E402

KEY, SECRET = "bench", "bench-secret-" + "z" * 24
SMALL = 100  # rooms up to this many events are made fresh for every sample
BATCH = 50  # events per transaction: DynamoDB allows 100 actions, two per event


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", default="10,10000", help="prior events per room; first is the baseline")
    p.add_argument("--samples", type=int, default=10, help="requests per operation and room")
    p.add_argument("--slow-samples", type=int, default=3,
                   help="samples for rooms over 1000 events with snapshots off (each replays all)")
    p.add_argument("--snapshot-interval", type=int, default=100)
    p.add_argument("--warmup", type=int, default=3, help="unmeasured samples per setting first")
    p.add_argument("--writers", type=int, default=8, help="threads that write the big room")
    return p.parse_args(argv)


def now():
    return datetime.now(timezone.utc)


class Bench:
    def __init__(self, env: dict, interval: int):
        # no room cache: this measures what a load costs (replay vs snapshot), which the
        # cache would hide after the first request (bench/join_burst.py measures the cache)
        env = {**env, "DROPON_ROOM_CACHE": "0"}
        self.on = RoomsApplication(env={**env, "DROPON_SNAPSHOT_INTERVAL": str(interval)})
        self.off = RoomsApplication(env={**env, "DROPON_SNAPSHOT_INTERVAL": "0"})
        self.settings = Settings(api_keys={KEY: SECRET})
        from app import app
        self.gateway = LocalGateway(app, Config.create())
        self.admin = mint_admin_token(KEY, SECRET, 3000)
        self.identities = 0

    def request(self, method: str, path: str, token: str, body=None) -> tuple[float, dict]:
        started = time.perf_counter()
        response = self.gateway.handle_request(
            method, path, {"authorization": f"Bearer {token}", "content-type": "application/json"},
            json.dumps(body).encode() if body is not None else b"")
        elapsed = time.perf_counter() - started
        data = json.loads(response["body"])
        if response["statusCode"] >= 400:
            raise RuntimeError(f"{method} {path}: {data}")
        return elapsed, data

    def room_with(self, events: int, writers: int) -> str:
        """A persistent room with exactly ``events`` events: created, one joined speaker,
        then hands raised and lowered."""
        actor, seed = Actor("api_key", KEY), Actor("participant", "seed")
        room = self.on.create_room(actor, name=f"bench-{events}", policy={}, metadata={},
                                   starts_at=None, ends_at=None, persistent=True, now=now())
        room_id = UUID(room["id"])
        self.on.join(seed, room_id, identity="seed", role="speaker", now=now())
        aggregate = self.on.repository.get(room_id)
        raised = False
        while aggregate.version < events:
            (aggregate.lower_own_hand if raised else aggregate.raise_hand)(seed, at=now())
            raised = not raised
        pending = aggregate.collect_events()
        stored = [self.on.mapper.to_stored_event(e) for e in pending]
        chunks = [stored[i:i + BATCH] for i in range(0, len(stored), BATCH)]
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(self.on.recorder.insert_events, chunks))
        if pending:
            self.on.take_snapshot(room_id)
        return str(room_id)

    def token(self, room_id: str, identity: str) -> str:
        return mint_participant_token(self.settings, KEY, room_id=room_id, identity=identity,
                                      role="speaker", ttl_seconds=3000)[0]

    def sample(self, application, room_id: str) -> tuple[float, float]:
        """One join and one raise hand, by a new identity; their latencies in seconds."""
        bootstrap.configure(settings=self.settings, application=application)
        self.identities += 1
        token = self.token(room_id, f"p{self.identities}")
        joined, _ = self.request("POST", f"/rooms/{room_id}/join", token)
        raised, _ = self.request("POST", f"/rooms/{room_id}/hand", token)
        return joined, raised


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main(argv=None) -> None:
    args = parse_args(argv)
    # stop the embedded DynamoDB (the with block below) on SIGTERM too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(x) for x in args.events.split(",")]
    print("command: python bench/api.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])))
    results = {}
    with embedded_dynamodb() as server:
        env = {"PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb", "CREATE_TABLE": "y",
               "DYNAMODB_TABLE_PREFIX": "bench", "AWS_ENDPOINT_URL": endpoint(server),
               "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench"}
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        bench = Bench(env, args.snapshot_interval)
        for application in (bench.on, bench.off):  # warm up tables and connections
            for _ in range(args.warmup):
                bench.sample(application, bench.room_with(sizes[0], 1))
        shared = {}
        for size in sizes:
            if size > SMALL:
                started = time.perf_counter()
                shared[size] = bench.room_with(size, args.writers)
                print(f"built a room of {size} events in {time.perf_counter() - started:.1f} s",
                      flush=True)
        # small rooms are used once each: every sample sees exactly `size` prior events
        fresh = {size: [bench.room_with(size, 1) for _ in range(2 * args.samples)]
                 for size in sizes if size <= SMALL}
        settings = (("on", bench.on), ("off", bench.off))
        counts = {(size, label): args.slow_samples if size > 1000 and label == "off"
                  else args.samples for size in sizes for label, _ in settings}
        for key in counts:
            results[key] = {"join": [], "raise hand": []}
        # interleaved, so that the baseline and the others share the machine's mood
        for i in range(max(counts.values())):
            for label, application in settings:
                for size in sizes:
                    if i < counts[(size, label)]:
                        room = shared.get(size) or fresh[size].pop()
                        joined, raised = bench.sample(application, room)
                        results[(size, label)]["join"].append(joined)
                        results[(size, label)]["raise hand"].append(raised)
        print(f"samples: {counts}", flush=True)
    report(results, sizes, args.snapshot_interval)


def report(results: dict, sizes: list[int], interval: int) -> None:
    base = sizes[0]
    print(f"\nlatency through the HTTP handler, ms (snapshots on = every {interval} events);"
          f" ratio = p50 / p50 of the {base}-event room with the same setting")
    print(f"{'events':>7} {'snapshots':>9} {'operation':>11} {'n':>3} {'p50':>8} {'p99':>8} {'ratio':>6}")
    for (size, label), ops in results.items():
        for op, values in ops.items():
            p50 = pct(values, 0.5)
            ratio = p50 / pct(results[(base, label)][op], 0.5)
            print(f"{size:>7} {label:>9} {op:>11} {len(values):>3} {p50:>8.1f} "
                  f"{pct(values, 0.99):>8.1f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
