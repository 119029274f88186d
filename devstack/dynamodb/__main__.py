"""``python -m devstack.dynamodb --host 127.0.0.1 --port PORT [--data-dir DIR]``

Serves the embedded DynamoDB in the foreground until SIGTERM or Ctrl-C. Without
``--data-dir`` it keeps everything in memory; with it, every acknowledged write is
journalled there and survives a ``kill -9`` (see ``journal.py``).
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from .journal import Journal
from .server import SerializedApp, serve

log = logging.getLogger("devstack.dynamodb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.dynamodb",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, help="keep tables here (default: in memory)")
    parser.add_argument("--fsync", action="store_true",
                        help="fsync each journalled write (survives a power cut, not only a crash)")
    parser.add_argument("--snapshot-every", type=int, default=20_000, metavar="N",
                        help="snapshot when the journal holds N records (default 20000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    journal = None
    if args.data_dir:
        journal = Journal(args.data_dir, fsync=args.fsync, snapshot_every=args.snapshot_every)
    app = SerializedApp(journal)
    if journal is not None:
        started = time.monotonic()
        counts = journal.recover(app.replay)
        log.info("recovered %s from %s in %.2f s", counts, args.data_dir, time.monotonic() - started)
    server = serve(app, args.host, args.port)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    log.info("serving DynamoDB on http://%s:%d (%s)", args.host, server.server_port,
             args.data_dir or "in memory")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if journal is not None:
            app.snapshot()  # the next start loads this instead of replaying the journal
            journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
