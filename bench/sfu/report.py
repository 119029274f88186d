"""Tables, ratios and the issue's targets, printed from TargetResults."""
from __future__ import annotations

import statistics

from .measure import Level, TargetResult

TARGET_CPU = 0.6       # a core, for 2 speakers to 62 audience
TARGET_FPS = 29.0      # "30 fps", with rounding room for a 10 s window
TARGET_LOSS = 0.01


def _f(value, fmt: str, missing: str = "-") -> str:
    return missing if value is None else format(value, fmt)


def table(result: TargetResult) -> str:
    lines = [f"== {result.name} ({result.publishers} publisher(s))"
             + (f"  ERROR: {result.error}" if result.error else "")]
    lines.append(f"{'N':>3} {'CPU s/s':>8} {'pkt/s out':>9} {'us/pkt':>7} {'fps mean':>8} "
                 f"{'fps min':>7} {'loss %':>6} {'1st frame med/max s':>19} {'client CPU':>10} "
                 f"{'UDP drops':>9} {'srv wait':>8} {'media fps min':>13} {'pace min':>8}")
    for lv in result.levels:
        ff = lv.first_frame_s
        first = (f"{statistics.median(ff):.2f}/{max(ff):.2f}" if ff else "-") + (
            f" ({lv.no_frame} none)" if lv.no_frame else "")
        lines.append(f"{lv.n:>3}{' ' if lv.healthy else '*'}{lv.server_cpu:>8.3f} {lv.packets_out:>9.0f} "
                     f"{_f(lv.us_per_packet, '7.1f'):>7} {_f(lv.fps_mean, '8.1f'):>8} "
                     f"{_f(lv.fps_min, '7.1f'):>7} {_f(lv.loss and 100 * lv.loss, '6.2f', '0.00' if lv.loss == 0 else '-'):>6} "
                     f"{first:>19} {lv.client_cpu:>10.2f} {lv.udp_drops:>9} {lv.server_wait:>8.2f} "
                     f"{_f(lv.fps_media_min, '13.1f'):>13} {_f(lv.pace_min, '8.3f'):>8}")
        for err in lv.errors[:3]:
            lines.append(f"      error: {err}")
    marginal = result.marginal()
    if any(not lv.healthy for lv in result.levels):
        lines.append("* degraded: a stream below 27 fps or 5% loss; left out of the marginal")
    lines.append("(srv wait: s/s the server was runnable but other work held its CPU; media fps:"
                 " frames per second of RTP time; pace: RTP seconds received per wall second,"
                 " below 1 when the publisher or the server lagged)")
    if marginal:
        lines.append(f"marginal (N = {', '.join(map(str, result.marginal_levels()))}): "
                     f"{1000 * marginal[0]:.1f} ms CPU/s per extra subscriber, "
                     f"{marginal[1]:.1f} us per extra forwarded packet")
    return "\n".join(lines)


def ratios(results: dict[str, TargetResult], base: str = "node") -> list[str]:
    """`base`/other for CPU per forwarded packet (marginal and at each common N) and CPU."""
    out = []
    ours = results.get(base)
    if not ours or not ours.levels:
        return [f"no ratios: target {base!r} has no figures"]
    for name, other in results.items():
        if name == base or not other.levels:
            continue
        m1, m2 = ours.marginal(), other.marginal()
        if m1 and m2:
            out.append(f"{base}/{name}: marginal CPU per forwarded packet "
                       f"{m1[1]:.1f}/{m2[1]:.1f} us = {m1[1] / m2[1]:.2f}x")
        theirs = {lv.n: lv for lv in other.levels}
        for lv in ours.levels:
            o = theirs.get(lv.n)
            if not o or not lv.n:
                continue
            per_packet = (f", per packet {lv.us_per_packet / o.us_per_packet:.2f}x"
                          if lv.us_per_packet and o.us_per_packet else "")
            flag = "" if lv.healthy and o.healthy else "  (degraded: not comparable)"
            out.append(f"{base}/{name} at N={lv.n}: CPU {lv.server_cpu:.3f}/{o.server_cpu:.3f} "
                       f"= {lv.server_cpu / o.server_cpu:.2f}x{per_packet}{flag}")
    return out


def targets(results: dict[str, TargetResult], n_full: int = 62) -> list[str]:
    """The issue's two targets, judged on this run's figures."""
    node, janus = results.get("node"), results.get("janus")
    out = []
    full: Level | None = next((lv for lv in node.levels if lv.n == n_full), None) if node else None
    if full and node.publishers == 2:
        ok = (full.server_cpu <= TARGET_CPU and (full.fps_mean or 0) >= TARGET_FPS
              and full.loss is not None and full.loss < TARGET_LOSS)
        out.append(f"stage room (2 speakers, {n_full} audience): {full.packets_out:.0f} pkt/s out, "
                   f"CPU {full.server_cpu:.3f} (<= {TARGET_CPU}), fps {_f(full.fps_mean, '.1f')} (>= {TARGET_FPS}), "
                   f"loss {_f(full.loss and 100 * full.loss, '.2f', '0.00')}% (< 1%): "
                   f"{'MET' if ok else 'NOT MET'}")
    else:
        out.append(f"stage room target: not measured (needs node, --publishers 2, N={n_full})")
    mn = node.marginal() if node else None
    mj = janus.marginal() if janus else None
    if mn and mj:
        out.append(f"CPU per forwarded packet vs tuned Janus: {mn[1]:.1f} vs {mj[1]:.1f} us: "
                   f"{'MET' if mn[1] <= mj[1] else 'NOT MET'}")
    else:
        out.append("CPU per packet target: not measured (needs node and janus)")
    return out
