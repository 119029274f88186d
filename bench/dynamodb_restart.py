"""What durability costs the embedded DynamoDB (``python -m devstack.dynamodb --data-dir``).

Fills a table with N items through the real server (BatchWriteItem, 25 at a time), then:
- kills it with SIGKILL and times a restart that replays the journal (the journal
  holds every write since the last snapshot, at most ``--snapshot-every`` records);
- stops it with SIGTERM (which takes a snapshot) and times a restart from the snapshot;
- against the baseline: the same server started in memory (no --data-dir).
A restart's time is from the process's start to its port answering; the server's own
"recovered ... in X s" line is printed beside it. The longest save while the server
took its periodic snapshot is printed too (a snapshot is taken under the request lock).

    python bench/dynamodb_restart.py                 # 100,000 items
    python bench/dynamodb_restart.py --items 20000
"""
from __future__ import annotations

import argparse
import re
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from devstack.dynamodb import embedded_dynamodb, endpoint  # noqa: E402
from devstack.process import free_port  # noqa: E402


def client(url: str):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=Config(max_pool_connections=16, retries={"max_attempts": 1}))


def fill(url: str, items: int) -> float:
    """Write ``items`` items of ~400 bytes; the slowest single write while doing so."""
    ddb = client(url)
    ddb.create_table(TableName="events", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "i", "KeyType": "HASH"},
                                {"AttributeName": "v", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "i", "AttributeType": "S"},
                                           {"AttributeName": "v", "AttributeType": "N"}])

    def batch(start: int) -> float:
        began = time.perf_counter()
        ddb.batch_write_item(RequestItems={"events": [
            {"PutRequest": {"Item": {"i": {"S": f"room-{n // 100}"}, "v": {"N": str(n)},
                                     "s": {"S": "x" * 380}}}}
            for n in range(start, min(items, start + 25))]})
        return time.perf_counter() - began

    with ThreadPoolExecutor(4) as pool:
        return max(pool.map(batch, range(0, items, 25)))


def timed_start(port: int, data_dir: Path | None, log: Path, *extra: str, count: bool = True):
    began = time.perf_counter()
    server = embedded_dynamodb(port, data_dir, log, *extra).start(timeout=600)
    elapsed = time.perf_counter() - began
    pages = client(endpoint(server)).get_paginator("scan").paginate(TableName="events", Select="COUNT")
    items = sum(page["Count"] for page in pages) if count else None
    return server, elapsed, items


def recovered(log: Path) -> str:
    lines = re.findall(r"recovered .* in [0-9.]+ s", log.read_text())
    return lines[-1] if lines else "-"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--snapshot-every", type=int, default=20_000,
                   help="the server's setting (its default); journal records between snapshots")
    args = p.parse_args(argv)
    print("command: python bench/dynamodb_restart.py " + " ".join(argv or sys.argv[1:]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        data, port = Path(tmp) / "data", free_port()
        flags = ("--snapshot-every", str(args.snapshot_every))
        base, base_s, _ = timed_start(free_port(), None, Path(tmp) / "memory.log", count=False)
        base.stop()
        server, first_s, _ = timed_start(port, data, Path(tmp) / "0.log", *flags, count=False)
        began = time.perf_counter()
        slowest = fill(endpoint(server), args.items)
        print(f"filled {args.items} items in {time.perf_counter() - began:.1f} s; slowest batch "
              f"{slowest * 1000:.0f} ms (includes the periodic snapshots)", flush=True)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        server, journal_s, journal_n = timed_start(port, data, Path(tmp) / "1.log", *flags)
        server.stop()  # SIGTERM: a snapshot at shutdown
        server, snap_s, snap_n = timed_start(port, data, Path(tmp) / "2.log", *flags)
        server.stop()
        size = sum(f.stat().st_size for f in data.iterdir()) / 1e6
        print(f"\nstart-up with {args.items} items ({size:.0f} MB on disk), s")
        print(f"{'start':<34} {'s':>6} {'ratio':>6} {'items':>7}  server log")
        print(f"{'in memory, empty (baseline)':<34} {base_s:>6.2f} {1:>6.2f} {'-':>7}")
        print(f"{'after kill -9: snapshot + journal':<34} {journal_s:>6.2f} {journal_s / base_s:>6.2f} "
              f"{journal_n:>7}  {recovered(Path(tmp) / '1.log')}")
        print(f"{'after SIGTERM: snapshot only':<34} {snap_s:>6.2f} {snap_s / base_s:>6.2f} "
              f"{snap_n:>7}  {recovered(Path(tmp) / '2.log')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
