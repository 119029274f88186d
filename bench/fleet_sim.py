"""What a room-hour costs at list prices, and what 10,000 concurrent rooms ask of each
part, from the figures the benchmarks measured (docs/scaling.md).

    python bench/fleet_sim.py [--rooms 10000] [--seconds 1800] [--seed 1]

No AWS call and no server: arithmetic on named inputs, each marked MEASURED (with the
benchmark and the run it comes from), ASSUMED (a guess, said why) or PRICE (us-east-1
list price), plus one simulation: rooms starting around the top of the hour, each with
its join burst, second by second, to find the peak rates the event log, the Lambdas and
the sockets must carry. Never part of the test run's pass/fail.
"""
from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass

# --- MEASURED (docs/sfu-benchmark.md, bench/sfu_load.py, C loop, 2026-11-25 17:19-17:59 UTC)
US_PER_PACKET = 17.6e-6       # marginal CPU-s per forwarded RTP packet: 17.0-18.2 us, midpoint
FIXED_PER_PUBLISHER = 0.039   # CPU-s/s per audio+video publisher: 0.076-0.080 with 2, N=0
VIDEO_PUBLISHER_PPS = 149     # RTP packets/s of one VP8 640x480 ~0.85 Mbps + Opus publisher
STAGE_ROOM_CPU = 0.41         # CPU-s/s at 2 publishers + 62 subscribers (0.396-0.419)
# --- MEASURED (docs/media-node.md, bench/recording.py): per-track recording, 2 speakers
RECORD_PER_TRACK_SPEAKER = 0.0019 / 2  # CPU-s/s per recorded speaker (audio+video, threads and loop), 2026-12-07 09:30
# --- MEASURED (docs/event-store.md, bench/burst_sim.py's inputs and bench/join_burst.py)
WRU_PER_SAVE = 4              # a 1-event save: 2 one-KB items, transactional (2x)
PARTITION_WRU = 1000          # DynamoDB's per-partition write rate (documented limit)
# --- ASSUMED
SAVE_ROUND_TRIP = 0.020       # s: Query 6 ms + TransactWriteItems 14 ms (burst_sim's medians)
JOIN_LAMBDA_SECONDS = 0.10    # s of one join invocation (load + save + node choice), warm
POST_TO_CONNECTION = 0.010    # s per API Gateway post_to_connection, one at a time per room
NODE_TARGET = 0.60            # CPU-s/s a node should carry: one event loop = one core, at 60 %
NODE_CEILING = 1.0            # CPU-s/s one node can give one room: its one event loop's core
PARALLELIZATION_FACTOR = 1    # the stream's event source mapping (the template's default; max 10)
AUDIO_PPS = 50                # Opus at 20 ms frames
AUDIO_KBPS, VIDEO_KBPS = 40, 850  # per stream on the wire, with RTP/SRTP overhead
COMPOSITE_CPU = 1.5           # CPU-s/s to decode the tiles and encode one 720p30 H.264 + AAC:
#                               ASSUMED for 720p30; measured 0.19 at 640x480@30 for 2 speakers
# --- PRICE (us-east-1 list prices, read 2026-12-06 from AWS's pricing pages as quoted by
#     vantage.sh, wring.co (2026-03) and airbyte.com (2025-07); not from an AWS account)
FARGATE_VCPU_HOUR, FARGATE_GB_HOUR = 0.04048, 0.004445
PUBLIC_IPV4_HOUR = 0.005
EGRESS_PER_GB = 0.09          # internet data transfer out, first 10 TB/month
DDB_PER_MILLION_WRU, DDB_PER_MILLION_RRU = 0.625, 0.125
LAMBDA_GB_SECOND, LAMBDA_PER_MILLION = 0.0000166667, 0.20
REST_PER_MILLION = 3.50
WS_PER_MILLION_MESSAGES, WS_PER_MILLION_CONNECTION_MINUTES = 1.00, 0.25
S3_GB_MONTH, S3_PER_1000_PUT = 0.023, 0.005


@dataclass(frozen=True)
class Room:
    """One kind of room for an hour."""

    name: str
    people: int
    video_publishers: int
    audio_publishers: int     # audio-only speakers
    recorded_tracks: int      # speakers recorded per track
    composite: bool
    events_per_hour: int      # joins, leaves, hands, mutes, promotions, recordings (ASSUMED)

    def packets_out(self) -> float:
        """RTP packets/s the node sends: every publisher to everyone else."""
        video = self.video_publishers * (self.people - 1) * VIDEO_PUBLISHER_PPS
        audio = self.audio_publishers * (self.people - 1) * AUDIO_PPS
        return video + audio

    def node_cpu(self) -> float:
        fixed = (self.video_publishers + self.audio_publishers * AUDIO_PPS / VIDEO_PUBLISHER_PPS
                 ) * FIXED_PER_PUBLISHER
        recording = self.recorded_tracks * RECORD_PER_TRACK_SPEAKER
        return fixed + self.packets_out() * US_PER_PACKET + recording

    def egress_gb_per_hour(self) -> float:
        kbps = (self.people - 1) * (self.video_publishers * (VIDEO_KBPS + AUDIO_KBPS)
                                    + self.audio_publishers * AUDIO_KBPS)
        return kbps * 1000 / 8 * 3600 / 1e9

    def recorded_gb_per_hour(self) -> float:
        kbps = self.recorded_tracks * (VIDEO_KBPS + AUDIO_KBPS) if self.video_publishers else \
            self.recorded_tracks * AUDIO_KBPS
        kbps += 2500 if self.composite else 0  # one 720p H.264 + AAC file (ASSUMED bitrate)
        return kbps * 1000 / 8 * 3600 / 1e9


ROOMS = (
    Room("64-person town hall, composite", 64, 2, 0, 0, True, 200),
    Room("10-person podcast, per-track", 10, 10, 0, 10, False, 40),
    # one open mic at a time; the other speakers muted and sending nothing (ASSUMED)
    Room("500-listener audio space", 500, 0, 1, 0, False, 1200),
)
# the same space with four open mics (browsers send Opus without DTX by default)
OPEN_MICS = Room("500-listener audio space, 4 open mics", 500, 0, 4, 0, False, 1200)


def cost_lines(room: Room) -> list[tuple[str, str, float]]:
    """(item, arithmetic, dollars) for one room-hour."""
    cpu = room.node_cpu()
    # a room lives on one node; it pays for the share of a 1-vCPU node it takes at the
    # fleet's target load, and for a whole node when it takes more than that
    share = min(1.0, cpu / NODE_TARGET) if cpu <= NODE_TARGET else 1.0
    node_cost = FARGATE_VCPU_HOUR + 2 * FARGATE_GB_HOUR + PUBLIC_IPV4_HOUR  # 1 vCPU, 2 GB
    out = [("media node", f"{cpu:.2f} CPU-s/s -> {share:.2f} of a 1-vCPU/2-GB task x "
            f"(${FARGATE_VCPU_HOUR} + 2 x ${FARGATE_GB_HOUR} + IPv4 ${PUBLIC_IPV4_HOUR})",
            share * node_cost)]
    if room.composite:
        tasks = math.ceil(COMPOSITE_CPU)
        out.append(("compositor (assumed)", f"{COMPOSITE_CPU} CPU-s/s -> {tasks} vCPU x "
                    f"${FARGATE_VCPU_HOUR} + 4 GB x ${FARGATE_GB_HOUR}",
                    tasks * FARGATE_VCPU_HOUR + 4 * FARGATE_GB_HOUR))
    gb = room.egress_gb_per_hour()
    out.append(("media egress", f"{gb:.1f} GB x ${EGRESS_PER_GB}", gb * EGRESS_PER_GB))
    rec = room.recorded_gb_per_hour()
    if rec:
        out.append(("recording storage, 1 month", f"{rec:.2f} GB x ${S3_GB_MONTH} + parts",
                    rec * S3_GB_MONTH + rec * 1024 / 8 * S3_PER_1000_PUT / 1000))
    # each event: a save (4 WRU), fan-out to every socket (a message and a cursor write)
    wru = room.events_per_hour * (WRU_PER_SAVE + room.people)
    out.append(("DynamoDB writes", f"{room.events_per_hour} events x ({WRU_PER_SAVE} + "
                f"{room.people} cursors) = {wru:,} WRU x ${DDB_PER_MILLION_WRU}/M",
                wru * DDB_PER_MILLION_WRU / 1e6))
    messages = room.events_per_hour * room.people
    out.append(("WebSocket", f"{messages:,} messages + {room.people * 60:,} connection-min",
                messages * WS_PER_MILLION_MESSAGES / 1e6
                + room.people * 60 * WS_PER_MILLION_CONNECTION_MINUTES / 1e6))
    invocations = room.people * 3 + room.events_per_hour  # token, join, leave; commands
    out.append(("REST + Lambda", f"{invocations:,} requests x (${REST_PER_MILLION}/M + "
                f"0.5 GB x {JOIN_LAMBDA_SECONDS} s)",
                invocations * (REST_PER_MILLION / 1e6 + LAMBDA_PER_MILLION / 1e6
                               + 0.5 * JOIN_LAMBDA_SECONDS * LAMBDA_GB_SECOND)))
    return out


def simulate_top_of_hour(rooms: int, seconds: int, seed: int) -> dict:
    """Rooms start uniformly over the first 5 minutes; each one's people join over 60 s
    (a town hall's 64 each); every join is a save, then fans out to the room's sockets.
    Per second: saves (event log), join invocations in flight (Lambda), socket messages."""
    rng = random.Random(seed)
    saves = [0] * seconds
    messages = [0] * seconds
    people = 64
    for _ in range(rooms):
        start = rng.uniform(0, 300)
        for k in range(people):
            t = int(start + rng.uniform(0, 60))
            if t < seconds:
                saves[t] += 1
                messages[t] += k + 1  # the k-th joiner's event reaches k+1 sockets
    peak_saves = max(saves)
    return {"peak_saves": peak_saves, "peak_messages": max(messages),
            "mean_saves": sum(saves) / seconds,
            "lambda_concurrency": peak_saves * JOIN_LAMBDA_SECONDS,
            "shards_by_round_trip": math.ceil(peak_saves * SAVE_ROUND_TRIP),
            "shards_by_partition": math.ceil(peak_saves * WRU_PER_SAVE / PARTITION_WRU)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=1800)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print("== cost per room-hour (us-east-1 list prices) ==")
    for room in ROOMS:
        lines = cost_lines(room)
        print(f"\n{room.name}: {room.packets_out():,.0f} pkt/s out, "
              f"node CPU {room.node_cpu():.2f} CPU-s/s")
        for item, arithmetic, dollars in lines:
            print(f"  {item:28s} {arithmetic:70s} ${dollars:8.4f}")
        print(f"  {'total':28s} {'':70s} ${sum(d for *_, d in lines):8.4f}")
    print(f"\n{OPEN_MICS.name}: {OPEN_MICS.packets_out():,.0f} pkt/s out, node CPU "
          f"{OPEN_MICS.node_cpu():.2f} CPU-s/s: above one node's {NODE_CEILING} (one event "
          f"loop): does not fit")
    print(f"\n== {args.rooms:,} concurrent rooms ==")
    for room in ROOMS:
        cpu = room.node_cpu()
        per_node = max(1, int(NODE_TARGET // cpu))  # a room above the target has a node alone
        nodes = math.ceil(args.rooms / per_node)
        sockets = args.rooms * room.people
        events = args.rooms * room.events_per_hour / 3600
        print(f"all {room.name}: {nodes:,} nodes ({per_node} room(s) per node), "
              f"{sockets:,} sockets, {events:,.0f} events/s steady, "
              f"{events * room.people:,.0f} socket messages/s, "
              f"{events * (WRU_PER_SAVE + room.people):,.0f} WRU/s")
    sim = simulate_top_of_hour(args.rooms, args.seconds, args.seed)
    print(f"\ntop of the hour ({args.rooms:,} town halls starting within 5 min, joins over "
          f"60 s; seed {args.seed}):")
    print(f"  saves/s: peak {sim['peak_saves']:,}, mean over {args.seconds} s "
          f"{sim['mean_saves']:,.0f}")
    print(f"  join Lambdas in flight at the peak: {sim['lambda_concurrency']:,.0f} "
          f"(at {JOIN_LAMBDA_SECONDS * 1000:.0f} ms each)")
    print(f"  notification shards needed: {sim['shards_by_round_trip']} by the sequencer's "
          f"round trip ({SAVE_ROUND_TRIP * 1000:.0f} ms), {sim['shards_by_partition']} by "
          f"partition write rate ({PARTITION_WRU} WRU/s)")
    # the events table's stream: about one shard per partition of ~1,000 write units/s
    # (ASSUMED), each read by PARALLELIZATION_FACTOR invocations that post one at a time
    shards = math.ceil(sim["peak_saves"] * WRU_PER_SAVE / 2 / PARTITION_WRU)
    capacity = shards * PARALLELIZATION_FACTOR / POST_TO_CONNECTION
    print(f"  socket messages/s at the peak: {sim['peak_messages']:,}; the stream handler "
          f"posts at most {capacity:,.0f}/s ({shards} shards x {PARALLELIZATION_FACTOR} "
          f"invocation(s), {POST_TO_CONNECTION * 1000:.0f} ms a post): "
          f"{sim['peak_messages'] / capacity:,.0f}x short; with factor 10: "
          f"{sim['peak_messages'] / capacity / 10:,.1f}x short")
    per_room_fanout = 500 * POST_TO_CONNECTION
    print(f"  one event to a 500-listener room: {per_room_fanout:.1f} s of posts, one at a "
          f"time (at {POST_TO_CONNECTION * 1000:.0f} ms each)")
    print(f"\nrerun: python bench/fleet_sim.py --rooms {args.rooms} --seconds {args.seconds} "
          f"--seed {args.seed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
