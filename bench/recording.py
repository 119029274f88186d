"""Per-track recording's CPU over forwarding alone, the time from stop to the objects
being complete in the bucket (S3, GCS, Azure), and the composite's speed and CPU against
ffmpeg (issue 11, the node's side).

    python bench/recording.py                                    # ~5 min
    python bench/recording.py --lengths 60,600 --composite-seconds 0   # ~13 min

A standalone node runs in this process on 127.0.0.1; 2 speakers (pre-encoded VP8 640x480
at ~0.85 Mbps, no encoding cost, plus Opus) run in a process of their own
(``media_node_dev.speakers``), so this process's CPU is the node's alone. moto's S3
server, Azurite and the GCS emulator are processes of their own too.

**CPU.** Windows of ``--seconds`` alternate: forwarding alone, then forwarding while a
per-track recording to S3 runs, ``--pairs`` times, and one more forwarding window last.
A recording window opens once every track's file is open (so it measures a recording
under way; what opening a file costs is printed apart) and closes before the stop.
The recording's own CPU is the direct figure against the target: its threads' CPU time
(the recording and upload pools, ``pthread_getcpuclockid``) plus its time on the loop
(the writers' clock's ticks, turns (the muxing) and hand-backs, and the steps of the
tasks that send parts, timed with ``perf_counter`` around each: the loop never blocks in
them, so their time there is CPU time; the timing's own cost is in it too; and each
frame's tap). A tap is the writer's queue's C ``list.append``, called by the track with a
tuple it makes once for all its taps (the payloads and ``time.time()``): timing each
would cost the loop several times what it times. So the frames are counted as the writers take
them from their queues, and after each window the track's steps for that many taps are
run in a row and timed (``tap_seconds``). Each recording window's process CPU against the
forwarding windows either side of it is printed too, as a cross-check: forwarding alone
varies by +-15 % from one 15 s window to the next on this machine, so that difference is
noisy, and only the mean of many windows says much (``docs/media-node.md``, Measured).

**Stop to complete.** One recording per store per ``--lengths`` entry, all of a length
started together and stopped one after another, each once the one before it is
complete; each one's time from ``RecordingStopped`` to its ``completed`` report (every
object completed and read back). For S3 the time some
call was in flight, and moto's ``CompleteMultipartUpload`` alone, are split out: moto
assembles a multipart object in memory on completion, so its share grows with the size.

**Composite.** A composite and a per-track recording run together for
``--composite-seconds``: the compositor process's own CPU time gives the composite's
speed (media seconds per CPU second, one thread), and ``ffmpeg`` composing the
per-track files offline into the same grid with ``xstack``/``amix`` (one thread) is the
baseline for its CPU per recorded minute. Never part of the test run's pass/fail.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from media_node.recording.batches import MuxClock  # noqa: E402
from media_node.recording.track_writer import TrackWriter  # noqa: E402
from media_node.storage.azure import azure_service  # noqa: E402
from media_node.storage.destinations import uploader_for  # noqa: E402
from media_node.storage.gcs import gcs_client  # noqa: E402
from media_node_dev.local import running_node  # noqa: E402
from tests.storage_servers import (AZURITE_ACCOUNT, AZURITE_KEY, azurite,  # noqa: E402
                                   gcs_emulator, moto_s3_server)

KEY = Fernet.generate_key().decode()
ROOM = "r"
THREAD_GROUPS = ("recording", "upload")  # the node's pools' thread name prefixes


def sealed(credentials: dict | None) -> str | None:
    return Fernet(KEY).encrypt(json.dumps(credentials).encode()).decode() \
        if credentials else None


def process_cpu() -> float:
    times = os.times()
    return times.user + times.system


def thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds of each live thread of the node's recording and upload pools."""
    found = {}
    for thread in threading.enumerate():
        group = next((g for g in THREAD_GROUPS if thread.name.startswith(g)), None)
        if group is not None and thread.ident is not None:
            with contextlib.suppress(OSError):
                found[thread.ident] = (group, time.clock_gettime(
                    time.pthread_getcpuclockid(thread.ident)))
    return found


class LoopTime:
    """Seconds the recording's code ran on the loop: the clock's ticks and turns (where
    each writer's batch is muxed) and its hand-backs (each writer's ``muxed``), and every
    step of the tasks that send full parts, each timed; and the frames the writers took
    from their queues, whose taps :func:`tap_seconds` costs (a tap is the queue's C
    ``list.append``: timing each one would cost the loop several times what it times)."""

    seconds = 0.0
    frames = 0  # frames taken from the writers' queues
    depth = 0  # timed calls under way
    longest = 0.0  # the longest of the clock's calls (a tick, a turn, a hand-back)

    @classmethod
    def install(cls) -> None:
        take = TrackWriter._take_queued

        def counted(writer):
            batch = take(writer)
            cls.frames += len(batch)
            return batch
        TrackWriter._take_queued = counted
        MuxClock._tick = cls.wrap(MuxClock._tick)
        MuxClock._turn = cls.wrap(MuxClock._turn)
        MuxClock._settled = cls.wrap(MuxClock._settled)
        send_parts = TrackWriter._send_parts
        TrackWriter._send_parts = lambda writer: cls.timed(send_parts(writer))

    @classmethod
    def wrap(cls, fn):
        """``fn`` timed, unless called by a timed one (a tick runs its first turn)."""
        def timed(*args):
            if cls.depth:
                return fn(*args)
            cls.depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent = time.perf_counter() - t0
                cls.seconds += spent
                cls.longest = max(cls.longest, spent)
                cls.depth -= 1
        return timed

    @classmethod
    @types.coroutine
    def timed(cls, coro):
        """``coro`` with each of its steps on the loop timed."""
        value, error = None, None
        while True:
            t0 = time.perf_counter()
            try:
                step = coro.throw(error) if error is not None else coro.send(value)
            except StopIteration as done:
                cls.seconds += time.perf_counter() - t0
                return done.value
            cls.seconds += time.perf_counter() - t0
            try:
                value, error = (yield step), None
            except BaseException as exc:  # noqa: BLE001 (a cancellation, passed on)
                value, error = None, exc


class Tap:
    """A writer as the track sees it: ``on_frame`` is its queue's ``list.append``."""

    def __init__(self) -> None:
        self.queue: list = []
        self.on_frame = self.queue.append


def tap_seconds(frames: int) -> float:
    """What ``frames`` taps cost the loop: the steps the track takes for them (in
    ``PublishedTrack.on_rtp_frame``: the frame's tuple with its ``time.time()``, then each
    tap's ``on_frame``) for one tap, run ``frames`` times in a row, the loop's own
    overhead included. Warm in the cache, so a floor: what it misses is in the process
    difference."""
    taps, packets = {Tap()}, [(1, 0x80, bytes(1200))]
    t0 = time.perf_counter()
    for timestamp in range(frames):
        if taps:
            frame = (timestamp, packets, False, time.time())
            for tap in taps:
                tap.on_frame(frame)
    return time.perf_counter() - t0


async def window(seconds: float) -> dict:
    """This process's CPU-s/s over ``seconds``, each thread group's, and the recording's
    on the loop."""
    start, used, threads, loop = time.monotonic(), process_cpu(), thread_cpu(), LoopTime.seconds
    LoopTime.longest, frames = 0.0, LoopTime.frames
    await asyncio.sleep(seconds)
    after, elapsed = thread_cpu(), time.monotonic() - start
    used, loop = process_cpu() - used, LoopTime.seconds - loop
    frames = LoopTime.frames - frames
    taps = tap_seconds(frames)  # after the window's process CPU was read
    groups = dict.fromkeys(THREAD_GROUPS, 0.0)
    for ident, (group, cpu) in after.items():
        groups[group] += cpu - threads.get(ident, (group, 0.0))[1]
    return {"process": used / elapsed, "loop": (loop + taps) / elapsed, "taps": taps / elapsed,
            "frames": frames / elapsed, "longest": LoopTime.longest,
            **{group: cpu / elapsed for group, cpu in groups.items()}}


class StoreCalls:
    """Every S3 call of the node's uploaders, timed (botocore's before/after-call hooks),
    so that an S3 stop-to-complete splits into the store's share and the node's."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float]] = []

    def hook(self, destination: dict, credentials: dict | None):
        uploader = uploader_for(destination, credentials)
        if destination["type"] == "s3":
            events = uploader.client.meta.events
            events.register("before-call.s3", self._before)
            events.register("after-call.s3", self._after)
        return uploader

    def _before(self, context, **_) -> None:
        context["bench_started"] = time.monotonic()

    def _after(self, context, model, **_) -> None:
        self.calls.append((model.name, context.pop("bench_started"), time.monotonic()))

    def busy(self, since: float, until: float, operation: str | None = None) -> float:
        """Seconds within ``[since, until]`` when at least one such call was in flight."""
        spans = sorted((max(t0, since), min(t1, until)) for op, t0, t1 in self.calls
                       if (operation is None or op == operation) and t1 > since and t0 < until)
        total, end = 0.0, since
        for t0, t1 in spans:
            total += max(0.0, t1 - max(t0, end))
            end = max(end, t1)
        return total


class Bench:
    """The node, its feed of room events, and the recordings' outcomes."""

    def __init__(self, n, destinations: dict[str, dict]) -> None:
        self.n, self.destinations, self.seq = n, destinations, 0
        self.store = StoreCalls()
        n.node.recordings.make_uploader = self.store.hook

    async def event(self, kind: str, **data) -> None:
        self.seq += 1
        await self.n.node.apply_room_event(ROOM, {"seq": self.seq, "type": kind, "data": data})

    def outcome(self, recording_id: str) -> dict | None:
        return next((r for _, rid, r in self.n.node.control_plane.recording_reports
                     if rid == recording_id and r["event"] in ("completed", "failed")), None)

    async def start(self, recordings: dict[str, tuple[str, str]]) -> None:
        """Start ``{recording id: (output, store)}`` and wait until each one records."""
        for rid, (output, store) in recordings.items():
            self.n.node.control_plane.destinations[rid] = self.destinations[store]
            await self.event("RecordingStarted", recordingId=rid, output=output,
                             destinationId=store)
        reports = self.n.node.control_plane.recording_reports
        while not all(any(r == rid and rep["event"] == "recording" for _, r, rep in reports)
                      for rid in recordings):
            await asyncio.sleep(0.01)

    async def stop(self, recording_ids) -> tuple[float, dict[str, float]]:
        """Stop them together; when, and each one's seconds from stop to its outcome."""
        stopped = time.monotonic()
        for rid in recording_ids:
            await self.event("RecordingStopped", recordingId=rid, reason="stopped")
        done: dict[str, float] = {}
        while len(done) < len(recording_ids):
            for rid in recording_ids:
                if rid not in done and self.outcome(rid):
                    done[rid] = time.monotonic() - stopped
            await asyncio.sleep(0.005)
        for rid in recording_ids:
            if self.outcome(rid)["event"] != "completed":
                raise SystemExit(f"recording {rid} failed: {self.outcome(rid)}")
        return stopped, done


async def cpu_windows(bench: Bench, seconds: float, pairs: int) -> list[tuple[str, dict]]:
    """Forwarding and recording windows alternated, forwarding first and last."""
    windows = []
    for i in range(pairs):
        windows.append(("forwarding", await window(seconds)))
        rid = f"cpu-{i}"
        await bench.start({rid: ("per-track", "s3")})
        writers = bench.n.node.recordings.active[rid].writers
        while len(writers) < 4 or any(w.file.frames == 0 for w in writers):
            await asyncio.sleep(0.05)  # each file open: its first keyframe muxed
        await asyncio.sleep(1.5)  # and a batch more
        windows.append(("recording", await window(seconds)))
        await bench.stop([rid])
        await asyncio.sleep(1.0)
    windows.append(("forwarding", await window(seconds)))
    return windows


async def stop_to_complete(bench: Bench, length: float, stores: list[str]) -> list[dict]:
    """One per-track recording per store, started together; after ``length`` s each is
    stopped in turn once the one before it is complete, so that no store's completion
    (moto's and the GCS emulator's take CPU) slows another's."""
    recordings = {f"len{length:g}-{store}": ("per-track", store) for store in stores}
    await bench.start(recordings)
    started = time.monotonic()
    await asyncio.sleep(length)
    rows = []
    for rid, (_, store) in recordings.items():
        stopped, done = await bench.stop([rid])
        files = bench.outcome(rid)["files"]
        row = {"store": store, "seconds": length, "recorded": stopped - started,
               "stop_to_complete": done[rid], "files": len(files),
               "bytes": sum(f["bytes"] for f in files)}
        if store == "s3":
            until = stopped + done[rid]
            row["in_flight"] = bench.store.busy(stopped, until)
            row["completing"] = bench.store.busy(stopped, until, "CompleteMultipartUpload")
        rows.append(row)
    return rows


async def composite_run(bench: Bench, seconds: float) -> dict:
    recordings = {"comp-c": ("composite", "s3"), "comp-pt": ("per-track", "s3")}
    await bench.start(recordings)
    writer = bench.n.node.recordings.active["comp-c"].composite
    used = await window(seconds)
    _, done = await bench.stop(list(recordings))
    return {"cpu_window": used["process"], "stop_to_complete": done["comp-c"],
            "summary": writer.summary, "dropped_frames": writer.dropped_frames,
            "file": bench.outcome("comp-c")["files"][0],
            "tracks": bench.outcome("comp-pt")["files"]}


def make_destinations(endpoints: dict[str, str]) -> tuple[dict[str, dict], tuple]:
    """A bucket (or container) in each store; S3's client and bucket for the baseline."""
    s3 = boto3.client("s3", endpoint_url=endpoints["s3"], region_name="us-east-1",
                      aws_access_key_id="bench", aws_secret_access_key="bench")
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    destinations = {"s3": {"type": "s3", "bucket": bucket, "region": "us-east-1",
                           "prefix": "bench", "endpoint": endpoints["s3"],
                           "forcePathStyle": True,
                           "sealed": sealed({"accessKeyId": "bench",
                                             "secretAccessKey": "bench"})}}
    if "gcs" in endpoints:
        created = gcs_client("bench", endpoints["gcs"], None).create_bucket(bucket)
        destinations["gcs"] = {"type": "gcs", "bucket": created.name, "prefix": "bench",
                               "endpoint": endpoints["gcs"], "sealed": None}
    if "azure" in endpoints:
        azure_service(AZURITE_ACCOUNT, endpoints["azure"],
                      {"accountKey": AZURITE_KEY}).create_container(bucket)
        destinations["azure"] = {"type": "azure", "account": AZURITE_ACCOUNT,
                                 "container": bucket, "prefix": "bench",
                                 "endpoint": endpoints["azure"],
                                 "sealed": sealed({"accountKey": AZURITE_KEY})}
    return destinations, (s3, bucket)


@contextlib.contextmanager
def speakers(n, names: list[str]):
    """The speakers' process, connected; closed (and waited for) on exit."""
    tokens = [n.token(ROOM, name, "speaker") for name in names]
    process = subprocess.Popen(
        [sys.executable, "-m", "media_node_dev.speakers", f"{n.base_url}/rooms/{ROOM}/whip",
         *tokens], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def run(args, endpoints: dict[str, str], spool: str) -> dict:
    destinations, s3 = make_destinations(endpoints)
    results: dict = {"s3": s3}
    async with running_node("node-bench", "bench-secret-0123456789abcdefghij",
                            secrets_key=KEY, recording_dir=spool) as n:
        gc.freeze()  # as python -m media_node does once started (docs/media-node.md)
        LoopTime.install()
        bench = Bench(n, destinations)
        with speakers(n, ["alice", "bob"]) as process:
            loop = asyncio.get_running_loop()
            if await loop.run_in_executor(None, process.stdout.readline) != "ready\n":
                raise SystemExit("the speakers did not connect")
            await asyncio.sleep(3)  # renegotiated, flowing both ways
            results["windows"] = await cpu_windows(bench, args.seconds, args.pairs)
            results["stop_to_complete"] = []
            for length in args.lengths:
                results["stop_to_complete"] += await stop_to_complete(bench, length,
                                                                      args.stores)
            if args.composite_seconds:
                results["composite"] = await composite_run(bench, args.composite_seconds)
    return results


def ffmpeg_baseline(s3, bucket: str, tracks: list[dict], folder: Path) -> float:
    """CPU seconds of ``ffmpeg`` composing the per-track files offline into the same
    layout (xstack of two 320x240 tiles in 320x480 cells, amix), one thread throughout."""
    paths = {}
    for entry in tracks:
        key = entry["uri"].split("/", 3)[3]
        path = folder / key.replace("/", "_")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if hashlib.sha256(body).hexdigest() != entry["sha256"]:
            print(f"warning: {key} in the bucket is not the manifest's ({len(body)} bytes, "
                  f"{entry['bytes']} in the manifest)")
        path.write_bytes(body)
        paths[entry["participantId"], entry["kind"]] = path
    inputs = [paths[who, kind] for who in ("alice", "bob") for kind in ("video", "audio")]
    tile = "scale=320:240,pad=320:480:0:120,fps=30"
    command = ["ffmpeg", "-nostdin", "-v", "error"]
    for path in inputs:
        command += ["-threads", "1", "-i", str(path)]
    command += ["-filter_complex_threads", "1", "-filter_complex",
                f"[0:v]{tile}[l];[2:v]{tile}[r];[l][r]xstack=inputs=2:layout=0_0|w0_0[v];"
                "[1:a][3:a]amix=inputs=2:normalize=0[a]",
                "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast",
                "-tune", "zerolatency", "-g", "60", "-threads", "1", "-c:a", "aac",
                "-b:a", "128k", "-y", str(folder / "baseline.mp4")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def print_cpu(windows: list[tuple[str, dict]], seconds: float) -> None:
    forwarding = [w["process"] for kind, w in windows if kind == "forwarding"]
    recording = [w["process"] for kind, w in windows if kind == "recording"]
    base = statistics.mean(forwarding)
    # each recording window against the forwarding windows either side of it
    costs = [w["process"] - (windows[i - 1][1]["process"] + windows[i + 1][1]["process"]) / 2
             for i, (kind, w) in enumerate(windows) if kind == "recording"]
    own = [w["recording"] + w["upload"] + w["loop"] for kind, w in windows
           if kind == "recording"]
    loop = [w["loop"] for kind, w in windows if kind == "recording"]
    muxing = [w["recording"] for kind, w in windows if kind == "recording"]
    uploads = [w["upload"] for kind, w in windows if kind == "recording"]
    taps = [w["taps"] for kind, w in windows if kind == "recording"]
    frames = [w["frames"] for kind, w in windows if kind == "recording"]
    print(f"node's process CPU, forwarding alone: {base:.3f} CPU-s/s, mean of "
          f"{len(forwarding)} windows of {seconds:g} s ({min(forwarding):.3f}-"
          f"{max(forwarding):.3f})")
    print(f"node's process CPU, also recording:   {statistics.mean(recording):.3f} CPU-s/s, "
          f"mean of {len(recording)} ({min(recording):.3f}-{max(recording):.3f})")
    print(f"recording's own CPU:                  {statistics.mean(own):.4f} CPU-s/s = "
          f"{statistics.mean(own) / base * 100:.1f} % of forwarding, target <= 5 % (its "
          f"threads: {statistics.mean(muxing) * 1e3:.2f} ms/s writing and reading the spool, "
          f"{statistics.mean(uploads) * 1e3:.2f} ms/s uploading; and "
          f"{statistics.mean(loop) * 1e3:.2f} ms/s on the loop, muxing included, of which "
          f"{statistics.mean(taps) * 1e3:.3f} ms/s the taps of "
          f"{statistics.mean(frames):.0f} frames/s; per window: "
          f"{', '.join(f'{o / base * 100:.1f}' for o in own)} %)")
    print(f"cross-check, process CPU difference:  {statistics.mean(costs):+.4f} CPU-s/s = "
          f"{statistics.mean(costs) / base * 100:+.1f} % of forwarding, median "
          f"{statistics.median(costs) / base * 100:+.1f} % (each window against its "
          f"neighbours: {', '.join(f'{c / base * 100:+.1f}' for c in costs)} %; forwarding "
          f"alone varies that much)")
    longest = [w["longest"] for kind, w in windows if kind == "recording"]
    print(f"longest the recording held the loop at once: {max(longest) * 1e3:.2f} ms "
          f"(a tick, a turn of muxing or a hand-back; median of the windows' longest "
          f"{statistics.median(longest) * 1e3:.2f} ms)")


def print_stop_to_complete(rows: list[dict]) -> None:
    for row in rows:
        line = (f"stop to complete, {row['store']:<5} {row['recorded']:>5.0f} s recorded: "
                f"{row['stop_to_complete']:.2f} s ({row['files']} files, "
                f"{row['bytes'] / 1e6:.1f} MB; target <= 5 s)")
        if "in_flight" in row:
            line += (f"; S3 calls in flight {row['in_flight']:.2f} s of it, moto's "
                     f"CompleteMultipartUpload {row['completing']:.2f} s")
        print(line)
    lengths = sorted({row["seconds"] for row in rows})
    if len(lengths) >= 2:
        for store in dict.fromkeys(row["store"] for row in rows):
            by = {row["seconds"]: row["stop_to_complete"] for row in rows
                  if row["store"] == store}
            print(f"stop to complete, {store}, {lengths[-1]:g} s over {lengths[0]:g} s: "
                  f"x{by[lengths[-1]] / by[lengths[0]]:.2f} (must not grow with length)")


def print_composite(composite: dict, per_track: float, baseline: float) -> None:
    """The composite's figures: its process's speed, the node's side, against ffmpeg."""
    summary, entry = composite["summary"], composite["file"]
    seconds, cpu = summary["durationSeconds"], summary["cpuSeconds"]
    node_side = composite["cpu_window"] - per_track  # CPU-s/s; noisy, may come out < 0
    minutes = seconds / 60
    print(f"composite, 2 speakers 640x480 VP8 + Opus -> {entry['codecs']} 640x480@30, "
          f"{seconds:.1f} s: compositor process {cpu:.2f} CPU-s "
          f"(decode, grid, mix, encode; 1 thread), {summary['startupCpuSeconds']:.2f} more "
          f"to start (its imports)")
    print(f"composite encode speed:         {seconds / cpu:.2f}x real time on one core "
          f"(target >= 1.5x)")
    print(f"composite on the node's process: {node_side:+.3f} CPU-s/s over the per-track "
          f"windows (taps, queue, upload; counted below when above 0)")
    total = cpu + max(0.0, node_side) * seconds
    print(f"composite CPU per recorded min: {total / minutes:.1f} CPU-s; ffmpeg "
          f"xstack/amix offline on the per-track files: {baseline / minutes:.1f} CPU-s "
          f"(ratio {total / baseline:.2f})")
    print(f"composite stop to complete:     {composite['stop_to_complete']:.2f} s; frames "
          f"dropped at the queue: {composite['dropped_frames']}, late samples: "
          f"{summary['lateSamples']}, decode errors: {summary['decodeErrors']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="each CPU window (s)")
    parser.add_argument("--pairs", type=int, default=3,
                        help="forwarding/recording window pairs")
    parser.add_argument("--lengths", default="60",
                        help="recording lengths (s) for stop-to-complete, comma-separated")
    parser.add_argument("--stores", default="s3,gcs,azure",
                        help="stores recorded into for stop-to-complete (s3 always runs)")
    parser.add_argument("--composite-seconds", type=float, default=30.0,
                        help="length (s) of the composite recorded beside a per-track one "
                             "(0: none)")
    args = parser.parse_args()
    args.lengths = [float(x) for x in args.lengths.split(",") if x]
    args.stores = [s for s in args.stores.split(",") if s]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as servers:
        endpoints = {"s3": servers.enter_context(moto_s3_server(Path(folder)))}
        if "gcs" in args.stores:
            endpoints["gcs"] = servers.enter_context(gcs_emulator(Path(folder)))
        if "azure" in args.stores:
            endpoints["azure"] = servers.enter_context(azurite(Path(folder)))
        results = asyncio.run(run(args, endpoints, str(Path(folder) / "spool")))
        composite = results.get("composite")
        baseline = ffmpeg_baseline(*results["s3"], composite["tracks"], Path(folder)) \
            if composite else 0.0
    print(f"load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
          f"({os.cpu_count()} CPUs)")
    print_cpu(results["windows"], args.seconds)
    print_stop_to_complete(results["stop_to_complete"])
    if composite:
        per_track = statistics.mean(w["process"] for kind, w in results["windows"]
                                    if kind == "recording")
        print_composite(composite, per_track, baseline)
    print("rerun: python bench/recording.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
