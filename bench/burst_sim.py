"""What a join burst does to one room when deployed: a simulation, not a measurement.

Deployed, each ``POST /rooms/{id}/join`` is its own Lambda invocation: a process that
serves one request at a time, so group commit cannot batch across them. Each join
loads the room (a warm container fast-forwards its cached room with one ``Query`` of
the newer events; a cold one reads the latest snapshot and the events after it), runs
the command, and sends one ``TransactWriteItems``: the event item, conditioned on its
version being free, and the notification-log item, conditioned on its id being free.
DynamoDB commits one of the racing transactions; the others are cancelled, back off
with full jitter (the application's constants) and go again.

Latencies are assumptions (DynamoDB's single-digit-millisecond reads, transactions
about twice a write), drawn from a log-normal around the given medians. Write units
follow DynamoDB's pricing: a transactional write costs 2 units per KB of each item,
and a cancelled transaction is counted as charged (the conservative reading). The
room's partition takes 1,000 write units a second; past that a transaction is
throttled (refused uncharged, and retried like a conflict). Adaptive capacity and
burst credit are not modelled.

    python bench/burst_sim.py                        # 64 and 1,000 joins, 20 runs each
    python bench/burst_sim.py --joins 64,256,1000 --spread 1.0 --runs 50
"""
from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys

# RoomsApplication's retry constants (chalicelib/application/rooms.py)
MAX_ATTEMPTS, BACKOFF_BASE, BACKOFF_CAP = 60, 0.002, 0.1
PARTITION_WCU = 1000  # per partition, per second


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--joins", default="64,1000")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--spread", type=float, default=0.5,
                   help="seconds over which the joins arrive (uniformly)")
    p.add_argument("--query-ms", type=float, default=6.0, help="median fast-forward Query")
    p.add_argument("--transact-ms", type=float, default=14.0, help="median TransactWriteItems")
    p.add_argument("--cold-ms", type=float, default=40.0,
                   help="median extra load time of a cold container (snapshot + tail)")
    p.add_argument("--cold-share", type=float, default=0.3,
                   help="share of invocations on a container that has not cached the room")
    p.add_argument("--item-kb", type=float, default=0.6, help="event and log item size")
    p.add_argument("--receive-ms", type=float, default=20.0,
                   help="median SQS FIFO receive, for the queued design")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def draw(rng: random.Random, median_ms: float) -> float:
    return rng.lognormvariate(math.log(median_ms / 1000), 0.35)


def simulate(joins: int, args, rng: random.Random) -> dict:
    """One burst on one room; the room's version is the only shared state."""
    units_per_save = 2 * 2 * math.ceil(args.item_kb)  # two items, 2 WCU per KB each
    version = 0
    events = []  # (time, kind, join index, version read)
    started = [rng.uniform(0, args.spread) for _ in range(joins)]
    for i, start in enumerate(started):
        load = draw(rng, args.query_ms) + (draw(rng, args.cold_ms) if rng.random() < args.cold_share else 0)
        heapq.heappush(events, (start + load, "send", i, None))
    attempts = [0] * joins
    done, failed, transactions, throttled = {}, 0, 0, 0
    charged = []  # times of charged transactions, for the partition's 1,000 WCU/s
    while events:
        t, kind, i, read = heapq.heappop(events)
        if kind == "send":  # the load finished at t: it saw the room at `version`
            heapq.heappush(events, (t + draw(rng, args.transact_ms), "commit", i, version))
            continue
        attempts[i] += 1
        while charged and charged[0] <= t - 1:
            charged.pop(0)
        if (len(charged) + 1) * units_per_save > PARTITION_WCU:
            throttled += 1  # refused before it is applied: not charged, retried
        else:
            transactions += 1
            charged.append(t)
            if read == version:  # nobody committed since this join's load: it wins
                version += 1
                done[i] = t
                continue
        if attempts[i] >= MAX_ATTEMPTS:
            failed += 1
            continue
        delay = rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempts[i]))
        heapq.heappush(events, (t + delay + draw(rng, args.query_ms), "send", i, None))
    latencies = [done[i] - started[i] for i in done]
    wall = max(done.values()) - min(started)
    units = transactions * units_per_save
    return {"wall": wall, "p50": statistics.median(latencies), "p99": pct(latencies, 0.99),
            "max": max(latencies), "transactions": transactions, "failed": failed,
            "throttled": throttled,
            "units": units, "peak_wcu": units / wall if wall else float("nan")}


def simulate_queue(joins: int, args, rng: random.Random) -> dict:
    """The same burst through an SQS FIFO queue with the room as message group: one
    consumer at a time per room takes up to 10 joins (FIFO's batch limit), applies them
    to its cached room and saves them in one transaction (group commit across Lambdas)."""
    units_per_event = 2 * 2 * math.ceil(args.item_kb)
    arrivals = sorted(rng.uniform(0, args.spread) for _ in range(joins))
    t, i, latencies, batches = 0.0, 0, [], 0
    while i < joins:
        t = max(t, arrivals[i]) + draw(rng, args.receive_ms)  # the consumer's receive
        batch = [a for a in arrivals[i:i + 10] if a <= t] or [arrivals[i]]
        t += draw(rng, args.query_ms) + draw(rng, args.transact_ms * 1.5)
        latencies += [t - a for a in batch]
        i += len(batch)
        batches += 1
    wall = t - arrivals[0]
    units = joins * units_per_event
    return {"wall": wall, "p50": statistics.median(latencies), "p99": pct(latencies, 0.99),
            "max": max(latencies), "transactions": batches, "failed": 0, "throttled": 0,
            "units": units, "peak_wcu": units / wall}


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv=None) -> int:
    args = parse_args(argv)
    print("command: python bench/burst_sim.py " + " ".join(argv or sys.argv[1:]))
    print(f"assumed medians: Query {args.query_ms} ms, TransactWriteItems {args.transact_ms} ms, "
          f"cold load +{args.cold_ms} ms for {args.cold_share:.0%}; arrivals over {args.spread} s")
    print(f"\n{'design':>8} {'joins':>6} {'wall s':>7} {'p50 s':>6} {'p99 s':>6} {'max s':>6} {'tx/join':>7} "
          f"{'throttled':>9} {'gave up':>7} {'WCU':>7} {'WCU/s':>6} {'of 1000':>7}")
    rng = random.Random(args.seed)
    for design, run in (("retries", simulate), ("queue", simulate_queue)):
        for joins in (int(j) for j in args.joins.split(",")):
            runs = [run(joins, args, rng) for _ in range(args.runs)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"{design:>8} {joins:>6} {med['wall']:>7.2f} {med['p50']:>6.2f} {med['p99']:>6.2f} "
                  f"{med['max']:>6.2f} {med['transactions'] / joins:>7.1f} {med['throttled']:>9.0f} "
                  f"{med['failed']:>7.0f} {med['units']:>7.0f} {med['peak_wcu']:>6.0f} "
                  f"{med['peak_wcu'] / PARTITION_WCU:>7.0%}")
    print("\n(median of the runs; tx/join counts charged transactions, a queue batch being one; "
          "'of 1000' is the mean write rate against the room's partition, 1,000 WCU/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
