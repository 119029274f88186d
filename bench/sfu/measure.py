"""Drive one target through subscriber levels and turn counter snapshots into figures."""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .clientproc import ClientProcess
from .cpu import cpu_seconds, run_queue_wait
from .targets import start_target

# a level counts toward the marginal cost only if the server kept up with it
HEALTHY_FPS = 27.0
HEALTHY_LOSS = 0.05
VIDEO_CLOCK = 90000  # RTP clock rate of VP8


@dataclass
class Level:
    """Figures of one steady-state window with `n` subscribers."""

    n: int
    server_cpu: float          # CPU-s per s
    packets_out: float         # RTP packets per s received by all subscribers
    fps_mean: float | None
    fps_min: float | None
    loss: float | None         # fraction of packets missing by sequence numbers
    client_cpu: float          # the subscribers' process, CPU-s per s
    udp_drops: int = 0         # datagrams dropped at full socket buffers (client side netns)
    server_wait: float = 0.0   # server threads runnable but not running, s per s
    first_frame_s: list[float] = field(default_factory=list)
    # frames per second of media time (RTP timestamps): what the node passed on of the
    # frames published in the window, whatever the publisher's pace
    fps_media_min: float | None = None
    # media seconds received per wall second, slowest stream: below 1 the publisher
    # (load generator) or the server lagged in this window, which lowers the wall fps
    pace_min: float | None = None
    no_frame: int = 0          # subscribers of this step with no keyframe on every stream
    errors: list[str] = field(default_factory=list)

    @property
    def us_per_packet(self) -> float | None:
        return self.server_cpu / self.packets_out * 1e6 if self.packets_out else None

    @property
    def healthy(self) -> bool:
        """Every stream near full frame rate and little loss: the server kept up."""
        return self.n == 0 or (self.fps_min is not None and self.fps_min >= HEALTHY_FPS
                               and (self.loss or 0) < HEALTHY_LOSS)


@dataclass
class TargetResult:
    name: str
    publishers: int
    levels: list[Level] = field(default_factory=list)
    error: str | None = None

    def marginal(self) -> tuple[float, float] | None:
        """(CPU-s/s per extra subscriber, µs per extra forwarded packet), least squares
        over the healthy levels only: a saturated server's CPU stops growing with N."""
        healthy = [lv for lv in self.levels if lv.healthy]
        points = [(lv.n, lv.server_cpu) for lv in healthy]
        top = max(healthy, key=lambda lv: lv.n, default=None)
        if len(points) < 2 or not top or not top.n or not top.packets_out:
            return None
        slope = statistics.linear_regression(*zip(*points)).slope
        return slope, slope / (top.packets_out / top.n) * 1e6

    def marginal_levels(self) -> list[int]:
        return [lv.n for lv in self.levels if lv.healthy]

    def to_dict(self) -> dict:
        return {**asdict(self), "marginal": self.marginal(),
                "marginal_levels": self.marginal_levels()}


def window(n: int, publishers: int, a: dict, b: dict, added: dict | None) -> Level:
    """Compare two snapshots (server CPU and client counters) taken `b - a` apart."""
    dt = b["t"] - a["t"]
    got = expected = packets = 0
    fps, fps_media, pace = [], [], []
    for i, after in enumerate(b["subs"]):
        before = a["subs"][i] if i < len(a["subs"]) else {}
        video = 0
        for ssrc, s in after.items():
            s0 = before.get(ssrc)
            if not s0:
                continue
            packets += s["packets"] - s0["packets"]
            got += s["packets"] - s0["packets"]
            expected += s["max_seq"] - s0["max_seq"]
            if s["kind"] == "video":
                video += 1
                frames = s["frames"] - s0["frames"]
                fps.append(frames / dt)
                if s.get("media_ts") is not None and s0.get("media_ts") is not None:
                    media_s = (s["media_ts"] - s0["media_ts"]) / VIDEO_CLOCK
                    pace.append(media_s / dt)
                    fps_media.append(frames / media_s if media_s > 0 else 0.0)
        fps += [0.0] * max(0, publishers - video)  # a stream that never came counts as 0 fps
    return Level(
        n=n, server_cpu=(b["server_cpu"] - a["server_cpu"]) / (b["wall"] - a["wall"]),
        packets_out=packets / dt,
        fps_mean=statistics.fmean(fps) if fps else None, fps_min=min(fps) if fps else None,
        loss=(expected - got) / expected if expected else None,
        client_cpu=(b["cpu"] - a["cpu"]) / dt, udp_drops=b["udp_drops"] - a["udp_drops"],
        server_wait=(b["server_wait"] - a["server_wait"]) / (b["wall"] - a["wall"]),
        first_frame_s=sorted((added or {}).get("first_frame_s", [])),
        no_frame=(added or {}).get("no_frame", 0), errors=(added or {}).get("errors", []),
        fps_media_min=min(fps_media) if fps_media else None,
        pace_min=min(pace) if pace else None)


def sample(pid: int, subscribers: ClientProcess) -> dict:
    wall, server_cpu, server_wait = time.monotonic(), cpu_seconds(pid), run_queue_wait(pid)
    snap = subscribers.request(30, "snapshot", cmd="snapshot")
    return {**snap, "wall": wall, "server_cpu": server_cpu, "server_wait": server_wait}


def measure_target(name: str, publishers: int, levels: list[int], seconds: float,
                   warmup: float, workdir: Path, server_cpu: int = 0, client_cpu: int = 1,
                   log=print) -> TargetResult:
    """Start `name`, publish, then add subscribers level by level, measuring each."""
    result = TargetResult(name, publishers)
    clients: list[ClientProcess] = []
    try:
        with start_target(name, workdir, server_cpu) as target:
            try:
                _run_levels(result, target, levels, seconds, warmup, workdir, client_cpu,
                            clients, log)
            finally:
                for client in reversed(clients):
                    client.stop()
    except Exception as exc:  # one target failing must not lose the others' figures
        result.error = f"{type(exc).__name__}: {exc}"
        log(f"  {name} failed: {result.error}")
    return result


def _run_levels(result: TargetResult, target, levels, seconds, warmup, workdir, client_cpu,
                clients: list[ClientProcess], log) -> None:
    name, publishers = result.name, result.publishers
    # the client args name the protocol the clients speak (node-py speaks node's)
    common = ["--publishers", str(publishers), *target.client_args]
    pub = ClientProcess(target.client_prefix, ["--mode", "publish", *common],
                        target.client_env, client_cpu, workdir / f"{name}-publishers.log")
    clients.append(pub)
    feeds = pub.read("ready", 60)["feeds"]
    sub = ClientProcess(target.client_prefix, [
        "--mode", "subscribe", *common, "--feeds", ",".join(str(f) for f in feeds if f)],
        target.client_env, client_cpu, workdir / f"{name}-subscribers.log")
    clients.append(sub)
    sub.read("ready", 60)
    n = 0
    for level in sorted(set(levels)):
        added = None
        if level > n:
            added = sub.request(60 + 2 * (level - n), "added", cmd="add",
                                count=level - n, wait=30)
            n = level
        time.sleep(warmup)
        a = sample(target.pid, sub)
        time.sleep(seconds)
        lv = window(n, publishers, a, sample(target.pid, sub), added)
        result.levels.append(lv)
        log(f"  {name} N={n}: {lv.server_cpu:.3f} CPU-s/s, {lv.packets_out:.0f} pkt/s, "
            f"fps {lv.fps_mean or 0:.1f}, loss {100 * (lv.loss or 0):.2f}%, "
            f"client {lv.client_cpu:.2f} CPU-s/s, UDP drops {lv.udp_drops}, "
            f"server waited for CPU {lv.server_wait:.2f} s/s")
        if n and not lv.packets_out:
            raise RuntimeError(f"nothing forwarded at N={n}: publishers lost? see {workdir}")
