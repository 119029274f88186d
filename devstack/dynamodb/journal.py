"""Durability for the embedded DynamoDB: a write-ahead journal plus snapshots.

Every request that changed something is appended to ``journal.jsonl`` (its action, its
caller's region and access key id, its JSON body, a sequence number) and flushed to the
operating system before the client gets its answer, so an acknowledged write survives a
``kill -9`` of the server (``fsync=True`` also survives a power cut, at a cost per write).
A snapshot (``snapshot.pickle``, written to a temporary file and renamed) holds every
table and the last sequence number it includes; it is taken at shutdown and whenever the
journal passes ``snapshot_every`` records. Start-up loads the snapshot, then replays the
journal records after it. A torn last line (the server died while writing it) was never
acknowledged and is dropped.
"""
from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from moto.dynamodb.models import dynamodb_backends

SNAPSHOT = "snapshot.pickle"
JOURNAL = "journal.jsonl"


@dataclass(frozen=True)
class Record:
    """One acknowledged change, as it was asked for."""

    seq: int
    action: str
    region: str
    access_key: str
    body: str


def _backends() -> Iterator[tuple[str, str, object]]:
    for account, regions in dynamodb_backends.items():
        for region, backend in regions.items():
            yield account, region, backend


class Journal:
    """The journal and snapshots of one data directory."""

    def __init__(self, data_dir: Path, *, fsync: bool = False, snapshot_every: int = 20_000):
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync, self.snapshot_every = fsync, snapshot_every
        self.seq = 0  # the last sequence number written or replayed
        self._since_snapshot = 0
        self._out = None

    # start-up

    def recover(self, replay: Callable[[Record], None]) -> dict:
        """Load the snapshot, replay what came after it; returns counts for the log."""
        snapshot_seq, tables = self._load_snapshot()
        replayed = 0
        for record in self._records():
            if record.seq <= snapshot_seq:
                continue  # already in the snapshot (a crash between snapshot and truncate)
            replay(record)
            replayed += 1
        self.seq = max(self.seq, snapshot_seq)
        self._since_snapshot = replayed
        self._out = open(self.dir / JOURNAL, "a", encoding="utf-8")
        return {"snapshotTables": tables, "snapshotSeq": snapshot_seq, "replayed": replayed}

    def _load_snapshot(self) -> tuple[int, int]:
        path = self.dir / SNAPSHOT
        if not path.exists():
            return 0, 0
        with open(path, "rb") as f:
            state = pickle.load(f)  # our own file, written by take_snapshot below
        for (account, region), tables in state["tables"].items():
            dynamodb_backends[account][region].tables = tables
        return state["seq"], sum(len(t) for t in state["tables"].values())

    def _records(self) -> Iterator[Record]:
        path = self.dir / JOURNAL
        if not path.exists():
            return
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
        for number, line in enumerate(lines):
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines) - 1:
                    return  # torn by a crash mid-write: never acknowledged
                raise
            record = Record(raw["seq"], raw["action"], raw["region"], raw["accessKey"], raw["body"])
            self.seq = max(self.seq, record.seq)
            yield record

    # while serving (the caller holds the server's lock)

    def append(self, action: str, region: str, access_key: str, body: str) -> None:
        self.seq += 1
        line = json.dumps({"seq": self.seq, "action": action, "region": region,
                           "accessKey": access_key, "body": body}, separators=(",", ":"))
        self._out.write(line + "\n")
        self._out.flush()
        if self.fsync:
            os.fsync(self._out.fileno())
        self._since_snapshot += 1
        if self._since_snapshot >= self.snapshot_every:
            self.take_snapshot()

    def take_snapshot(self) -> None:
        """Write every table and ``seq`` atomically, then empty the journal."""
        state = {"seq": self.seq,
                 "tables": {(a, r): b.tables for a, r, b in _backends() if b.tables}}
        tmp = self.dir / (SNAPSHOT + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.dir / SNAPSHOT)
        if self._out is not None:
            self._out.truncate(0)
            self._out.seek(0)
        self._since_snapshot = 0

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
