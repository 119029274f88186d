"""SFU load benchmark (issue 4): the media node against MediaRelay and tuned Janus.

1 or 2 publishers send pre-encoded VP8 640x480 (~0.85 Mbps) plus Opus from a file;
N subscribers count RTP packets without decoding. The server is pinned to one CPU and
the load clients to another; every target runs in the same run, so ratios compare
like with like on a noisy shared machine.

    python bench/sfu_load.py --targets node,relay,janus --subscribers 1,8,32,62 \\
        --publishers 2 --seconds 10
"""
from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sfu.measure import measure_target  # noqa: E402
from bench.sfu.media import media_path  # noqa: E402
from bench.sfu.report import ratios, table, targets  # noqa: E402

RELAY_MAX = 8  # MediaRelay re-encodes per subscriber and saturates a core at 2-3


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", default="node,relay,janus")
    p.add_argument("--subscribers", default="1,8,32,62",
                   help="subscriber counts, measured in one ramp (0 is always measured first)")
    p.add_argument("--publishers", type=int, choices=[1, 2], default=2)
    p.add_argument("--seconds", type=float, default=10, help="steady-state window per level")
    p.add_argument("--warmup", type=float, default=3, help="wait after adding subscribers")
    p.add_argument("--relay-max", type=int, default=RELAY_MAX, help="cap N for the relay")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--out", type=Path, default=ROOT / ".cache" / "bench")
    return p.parse_args(argv)


def rerun_command(args: argparse.Namespace) -> str:
    """The full command, defaults spelled out, so a reader can repeat this run."""
    return " ".join(shlex.quote(str(a)) for a in [
        "python", "bench/sfu_load.py", "--targets", args.targets, "--subscribers",
        args.subscribers, "--publishers", args.publishers, "--seconds", args.seconds,
        "--warmup", args.warmup, "--relay-max", args.relay_max])


def run(args: argparse.Namespace) -> dict:
    levels = [0] + [int(n) for n in args.subscribers.split(",") if n]
    media_path()  # generate once, before any clock starts
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    workdir = args.out / f"sfu-{stamp}"
    results = {}
    for name in [t for t in args.targets.split(",") if t]:
        cap = args.relay_max if name == "relay" else max(levels)
        print(f"-- {name}", flush=True)
        results[name] = measure_target(
            name, args.publishers, [n for n in levels if n <= cap], args.seconds, args.warmup,
            workdir, args.server_cpu, args.client_cpu)
    return {"results": results, "workdir": workdir, "stamp": stamp,
            "capped": {"relay": args.relay_max} if "relay" in results else {}}


def main(argv=None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so servers, clients and namespaces are cleaned up
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    out = run(args)
    results = out["results"]
    print()
    for result in results.values():
        print(table(result), end="\n\n")
    if "relay" in results:
        print(f"(relay capped at N={args.relay_max}: it decodes and re-encodes per subscriber)")
    print("ratios:")
    for line in ratios(results):
        print("  " + line)
    print("targets:")
    for line in targets(results):
        print("  " + line)
    path = out["workdir"] / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: r.to_dict() for k, r in results.items()}, indent=1))
    print(f"\nfigures: {path} ({time.monotonic() - started:.0f} s)")
    print("rerun: " + rerun_command(args))
    return 0 if all(not r.error for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
