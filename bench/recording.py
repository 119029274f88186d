"""Per-track recording's cost over forwarding alone, the time from stop to the objects
being complete in the bucket, and the composite's speed and CPU against ffmpeg
(issue 11, the node's side).

    python bench/recording.py --seconds 20 --lengths 60 --composite-seconds 30   # ~3 min
    python bench/recording.py --seconds 20 --lengths 60 --long 600  # 10 more minutes

Everything runs in this process: a standalone node on 127.0.0.1, 2 speakers sending
pre-encoded VP8 640x480 (~0.85 Mbps, no encoding cost) plus Opus, and moto's S3 server in
a process of its own. The process's CPU is measured over ``--seconds`` of forwarding
alone, then over as long with the room recorded: the speakers' costs are in both
windows, so the difference is recording's. Then one recording per ``--lengths`` entry
(seconds) measures the time from ``RecordingStopped`` to the ``completed`` report (every
object completed and read back). Last, a composite and a per-track recording run
together for ``--composite-seconds``: the compositor process's own CPU time gives the
composite's speed (media seconds per CPU second, one thread), and ``ffmpeg`` composing
the per-track files offline into the same grid with ``xstack``/``amix`` (one thread) is
the baseline for its CPU per recorded minute. Each stop-to-complete is split into the
time some S3 call was in flight (moto assembles a multipart object in memory on
completion, so its share grows with the object's size) and the node's own share (the
muxer's trailer, the spool's sha256, the first part and the tail). Never part of the
test run's pass/fail.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from media_node_dev.loadcheck import LoopedVideo  # noqa: E402
from media_node_dev.local import running_node  # noqa: E402
from media_node_dev.sources import EncodedAudioSource  # noqa: E402
from media_node.storage.destinations import uploader_for  # noqa: E402
from tests.storage_servers import moto_s3_server  # noqa: E402

KEY = Fernet.generate_key().decode()


def cpu() -> float:
    times = os.times()
    return times.user + times.system


async def window(seconds: float) -> float:
    """CPU-s/s of this process over ``seconds``."""
    start, used = time.monotonic(), cpu()
    await asyncio.sleep(seconds)
    return (cpu() - used) / (time.monotonic() - start)


class StoreCalls:
    """Every S3 call of the node's uploaders, timed (botocore's before/after-call hooks),
    so that stop-to-complete splits into the store's share and the node's."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float]] = []

    def hook(self, destination: dict, credentials: dict | None):
        uploader = uploader_for(destination, credentials)
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


async def record(n, outputs: dict[str, str], seconds: float, seq: list[int],
                 measure: bool) -> tuple[float | None, float, dict[str, list[dict]], dict, float]:
    """Record ``{recording id: output}`` together for ``seconds``: the CPU-s/s meanwhile
    (if ``measure``), stop-to-complete (the last one), each one's files, and the
    composite writers (their summaries), and when they were stopped."""
    async def event(kind: str, **data) -> None:
        seq[0] += 1
        await n.node.apply_room_event("r", {"seq": seq[0], "type": kind, "data": data})

    def outcome(recording_id: str):
        return [r for _, rid, r in n.node.control_plane.recording_reports
                if rid == recording_id and r["event"] in ("completed", "failed")]

    for recording_id, output in outputs.items():
        await event("RecordingStarted", recordingId=recording_id, output=output,
                    destinationId="bench")
    while not all(rid in n.node.recordings.active for rid in outputs):
        await asyncio.sleep(0.01)
    composites = {rid: n.node.recordings.active[rid].composite for rid, output in
                  outputs.items() if output == "composite"}
    used = await window(seconds) if measure else await asyncio.sleep(seconds)
    stopped = time.monotonic()
    for recording_id in outputs:
        await event("RecordingStopped", recordingId=recording_id, reason="stopped")
    while not all(outcome(rid) for rid in outputs):
        await asyncio.sleep(0.01)
    return (used, time.monotonic() - stopped,
            {rid: outcome(rid)[0].get("files", []) for rid in outputs}, composites, stopped)


async def run(seconds: float, lengths: list[float], composite_seconds: float, endpoint: str,
              spool: str) -> dict:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="bench", aws_secret_access_key="bench")
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    sealed = Fernet(KEY).encrypt(json.dumps({"accessKeyId": "bench",
                                             "secretAccessKey": "bench"}).encode()).decode()
    destination = {"type": "s3", "bucket": bucket, "region": "us-east-1", "prefix": "bench",
                   "endpoint": endpoint, "forcePathStyle": True, "sealed": sealed}
    async with running_node("node-bench", "bench-secret-0123456789abcdefghij",
                            secrets_key=KEY, recording_dir=spool) as n:
        store = StoreCalls()
        n.node.recordings.make_uploader = store.hook
        speakers = []
        for name in ("alice", "bob"):
            client = n.client("r", name, "speaker")
            client.publish(LoopedVideo(640, 480, 30, 850_000))
            client.publish(EncodedAudioSource())
            await client.connect()
            speakers.append(client)
        await asyncio.sleep(3)  # connected, renegotiated, flowing
        seq = [0]
        results = {"forwarding": await window(seconds)}
        for i, length in enumerate([seconds, *lengths]):
            rid = f"bench-{i}"
            n.node.control_plane.destinations[rid] = destination
            used, to_complete, files, _, stopped = await record(
                n, {rid: "per-track"}, length, seq, measure=i == 0)
            files = files[rid]
            if i == 0:
                results["recording"] = used
            done = stopped + to_complete
            results.setdefault("stop_to_complete", []).append(
                {"seconds": length, "stop_to_complete": round(to_complete, 3),
                 "files": len(files), "bytes": sum(f["bytes"] for f in files),
                 "store": round(store.busy(stopped, done), 3),
                 "completing": round(store.busy(stopped, done, "CompleteMultipartUpload"), 3)})
        n.node.control_plane.destinations["bench-pt"] = destination
        n.node.control_plane.destinations["bench-c"] = destination
        used, to_complete, files, composites, _ = await record(
            n, {"bench-c": "composite", "bench-pt": "per-track"}, composite_seconds, seq,
            measure=True)
        writer = composites["bench-c"]
        results["composite"] = {
            "cpu_window": used, "stop_to_complete": to_complete, "summary": writer.summary,
            "dropped_frames": writer.dropped_frames, "file": files["bench-c"][0],
            "tracks": files["bench-pt"]}
        for client in speakers:
            await client.close()
    results["s3"] = s3, bucket
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--lengths", default="60",
                        help="recording lengths (s) for stop-to-complete, comma-separated")
    parser.add_argument("--composite-seconds", type=float, default=30.0,
                        help="length (s) of the composite recorded beside a per-track one")
    parser.add_argument("--long", type=float, default=0.0,
                        help="one more recording this long (s), e.g. 600: as much wall time")
    args = parser.parse_args()
    lengths = [float(x) for x in args.lengths.split(",") if x] + ([args.long] if args.long else [])
    with tempfile.TemporaryDirectory() as folder:
        with moto_s3_server(Path(folder)) as endpoint:
            results = asyncio.run(run(args.seconds, lengths, args.composite_seconds, endpoint,
                                      str(Path(folder) / "spool")))
            composite = results["composite"]
            baseline = ffmpeg_baseline(*results["s3"], composite["tracks"], Path(folder))
    forwarding, recording = results["forwarding"], results["recording"]
    print(f"process CPU, forwarding alone:  {forwarding:.3f} CPU-s/s "
          f"(node and speakers together, {args.seconds:g} s)")
    print(f"process CPU, also recording:    {recording:.3f} CPU-s/s")
    print(f"recording's cost:               {recording - forwarding:+.3f} CPU-s/s "
          f"({(recording - forwarding) / forwarding * 100:+.1f} % of the forwarding window; "
          f"target <= 5 %)")
    for row in results["stop_to_complete"]:
        print(f"stop to complete, {row['seconds']:g} s recorded: {row['stop_to_complete']:.2f} s "
              f"({row['files']} files, {row['bytes']} bytes; target <= 5 s); S3 calls in "
              f"flight {row['store']:.2f} s of it, CompleteMultipartUpload {row['completing']:.2f} s, "
              f"the node alone {row['stop_to_complete'] - row['store']:.2f} s")
    rows = results["stop_to_complete"][1:]
    if len(rows) >= 2 and rows[0]["stop_to_complete"] > 0:
        ratio = rows[-1]["stop_to_complete"] / rows[0]["stop_to_complete"]
        print(f"stop to complete, {rows[-1]['seconds']:g} s over {rows[0]['seconds']:g} s: "
              f"x{ratio:.2f} (must not grow with length)")
    print_composite(composite, recording, baseline)
    print("rerun: python bench/recording.py " + " ".join(sys.argv[1:]))


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
          f"window (taps, queue, upload; counted below when above 0)")
    total = cpu + max(0.0, node_side) * seconds
    print(f"composite CPU per recorded min: {total / minutes:.1f} CPU-s; ffmpeg "
          f"xstack/amix offline on the per-track files: {baseline / minutes:.1f} CPU-s "
          f"(ratio {total / baseline:.2f})")
    print(f"composite stop to complete:     {composite['stop_to_complete']:.2f} s; frames "
          f"dropped at the queue: {composite['dropped_frames']}, late samples: "
          f"{summary['lateSamples']}, decode errors: {summary['decodeErrors']}")


if __name__ == "__main__":
    main()
