"""Event store benchmark: the DynamoDB recorders on the embedded DynamoDB, POPO beside them.

Prints inserts per second and aggregate load time at several aggregate sizes, with
and without snapshots, then saves per second on 1 room and on many rooms at once
(with the notification log in 1 shard and in several), each with its ratio to the
in-memory (POPO) baseline measured in the same run. Starts and stops its own
embedded DynamoDB (``python -m devstack.dynamodb``, in memory).

    .venv/bin/python bench/event_store.py [--sizes 10,1000,10000] [--saves 20]
        [--seconds 4] [--rooms 50] [--shards 1,8]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from devstack.dynamodb import embedded_dynamodb, endpoint  # noqa: E402

SNAPSHOT_INTERVAL = 100


class Room(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Ticked")
    def tick(self) -> None:
        self.count += 1


class Rooms(Application[UUID]):
    pass


class SnapshottingRooms(Application[UUID]):
    snapshotting_intervals = {Room: SNAPSHOT_INTERVAL}


def make(cls: type[Application], backend: dict[str, str] | None, run: int, **extra: str) -> Application:
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo"} if backend is None else {
        **backend, "DYNAMODB_TABLE_PREFIX": f"bench{run}-{time.monotonic_ns()}", **extra}
    return cls(env=env)


def seed(app: Application, size: int) -> Room:
    """A room with ``size`` events, written fast: in parallel, straight into its stream.

    Seeding bypasses the notification log (it is not what is measured here).
    """
    room = Room()
    for _ in range(size - 1):
        room.tick()
    stored = [app.mapper.to_stored_event(e) for e in room.collect_events()]
    in_memory = app.factory.__class__.__name__ == "POPOFactory"
    # POPO keeps a stream in insertion order, so it is seeded in order
    recorder = app.recorder if in_memory else app.factory.aggregate_recorder("events")
    chunks = [stored[i:i + 10] for i in range(0, len(stored), 10)]
    with ThreadPoolExecutor(1 if in_memory else 8) as pool:
        list(pool.map(recorder.insert_events, chunks))
    return room


def inserts_per_second(app: Application, room: Room, saves: int) -> float:
    started = time.perf_counter()
    for _ in range(saves):
        room.tick()
        app.save(room)
    return saves / (time.perf_counter() - started)


def load_seconds(app: Application, room_id: UUID, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        app.repository.get(room_id)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def sizes_table(backend, sizes, saves) -> dict:
    figures = {}
    for run, size in enumerate(sizes):
        for label, cls in (("no snapshots", Rooms), ("snapshots", SnapshottingRooms)):
            app = make(cls, backend, run)
            room = seed(app, size)
            if app.snapshots is not None:
                # the last snapshot is on average half an interval behind the head
                app.take_snapshot(room.id, version=max(1, size - SNAPSHOT_INTERVAL // 2))
            rate = inserts_per_second(app, room, saves)
            figures[(size, label)] = (rate, load_seconds(app, room.id))
            app.close()
    return figures


def saves_per_second(backend, rooms: int, seconds: float, **extra: str) -> float:
    app = make(Rooms, backend, rooms, **extra)
    stop, counts = threading.Event(), []

    def writer() -> None:
        room, n = Room(), 0
        while not stop.is_set():
            app.save(room)
            room.tick()
            n += 1
        counts.append(n)

    threads = [threading.Thread(target=writer) for _ in range(rooms)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    app.close()
    return sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--saves", type=int, default=30, help="timed saves per size")
    parser.add_argument("--seconds", type=float, default=4.0, help="per saves/s figure")
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--shards", default="1,8", help="notification shards to compare")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    shards = [int(s) for s in args.shards.split(",")]
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "bench")  # botocore signs every request
    started = time.perf_counter()

    popo_sizes = sizes_table(None, sizes, args.saves)
    popo_one = saves_per_second(None, 1, args.seconds)
    popo_many = saves_per_second(None, args.rooms, args.seconds)
    with embedded_dynamodb() as server:
        local = {"PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb",
                 "AWS_ENDPOINT_URL": endpoint(server), "AWS_REGION": "us-east-1",
                 "CREATE_TABLE": "y"}
        saves_per_second(local, 4, 3.0)  # warm up (connections, tables); not reported
        ddb_sizes = sizes_table(local, sizes, args.saves)
        ddb_one = saves_per_second(local, 1, args.seconds)
        ddb_many = {k: saves_per_second(local, args.rooms, args.seconds,
                                        DYNAMODB_NOTIFICATION_SHARDS=str(k)) for k in shards}

    print("\nEvent store: DynamoDB recorders on the embedded DynamoDB vs POPO (in-memory baseline)")
    print(f"snapshots every {SNAPSHOT_INTERVAL} events; last snapshot {SNAPSHOT_INTERVAL // 2} "
          "events behind the head\n")
    print(f"{'events':>7} {'snapshots':<13}{'DDB ins/s':>10}{'POPO ins/s':>11}{'ratio':>8}"
          f"{'DDB load ms':>13}{'POPO load ms':>14}{'ratio':>8}")
    for key, (rate, load) in ddb_sizes.items():
        p_rate, p_load = popo_sizes[key]
        print(f"{key[0]:>7} {key[1]:<13}{rate:>10.1f}{p_rate:>11.0f}{rate / p_rate:>8.4f}"
              f"{load * 1000:>13.1f}{p_load * 1000:>14.2f}{load / p_load:>8.0f}x")
    print(f"\n{'saves/s':<34}{'DDB':>9}{'POPO':>10}{'ratio':>9}")
    print(f"{'1 room, 1 writer':<34}{ddb_one:>9.1f}{popo_one:>10.0f}{ddb_one / popo_one:>9.4f}")
    for k, rate in ddb_many.items():
        label = f"{args.rooms} rooms at once, {k} log shard{'s' if k > 1 else ''}"
        print(f"{label:<34}{rate:>9.1f}{popo_many:>10.0f}{rate / popo_many:>9.4f}")
    print(f"\ntotal {time.perf_counter() - started:.0f}s. Rerun: .venv/bin/python bench/event_store.py "
          f"--sizes {args.sizes} --saves {args.saves} --seconds {args.seconds:g} "
          f"--rooms {args.rooms} --shards {args.shards}")


if __name__ == "__main__":
    main()
