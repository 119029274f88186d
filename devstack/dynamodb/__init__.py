"""The embedded DynamoDB of ``make run``, the tests and the benchmarks: moto, made safe.

moto (Apache-2.0) serves the DynamoDB API; this package fixes what it gets wrong for us
and adds what a local store needs:

- ``server.py``: one request at a time (moto's transactions are not isolated), DynamoDB
  Streams on the same port, a listen backlog for bursts;
- ``transactions.py``: ``TransactWriteItems`` that checks every condition before writing
  and rolls back only the items it touched, so its cost follows its own size, not the
  table's;
- ``limits.py``: 400 KB an item and 4 MB a transaction (moto enforces the 100 actions);
- ``responses.py``: the item-carrying answers (``Query``, ``GetItem``, ...) written with
  ``json.dumps`` instead of moto's shape walk, which cost 0.7 ms of CPU per item;
- ``journal.py``: a write-ahead journal and snapshots under ``--data-dir``.

Start it with ``python -m devstack.dynamodb --host 127.0.0.1 --port PORT [--data-dir DIR]``,
or from Python with :func:`embedded_dynamodb`.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..process import ServerProcess, free_port


def embedded_dynamodb(port: int | None = None, data_dir: Path | None = None,
                      log_path: Path | None = None, *extra: str) -> ServerProcess:
    """A ``python -m devstack.dynamodb`` process on 127.0.0.1 (call ``start()``);
    ``extra`` are more of its flags (``--snapshot-every``, ``--fsync``)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "devstack.dynamodb", "--host", "127.0.0.1", "--port", str(port)]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    argv += list(extra)
    return ServerProcess(argv, port, cwd=Path(__file__).resolve().parents[2], log_path=log_path)


def endpoint(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.port}"
