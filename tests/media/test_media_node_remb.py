"""Publishers get a fixed REMB cap and loss reports from the real node; media still flows.

A real aiortc publisher talks to the real node on 127.0.0.1. Its senders' RTCP handling is
hooked to see what the node sends back: REMB (``DROPON_PUBLISHER_MAX_BITRATE``, about once
a second, whatever the node's own load), receiver reports and NACKs.
"""
from __future__ import annotations

import asyncio
import time

import pytest
from aiortc.rtp import (RTCP_PSFB_APP, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRrPacket,
                        RtcpRtpfbPacket, pack_remb_fci, unpack_remb_fci)

from media_node_dev.sources import EncodedVideoSource

from .helpers import listener_client, run, running_node, speaker_client, wait_for

pytestmark = pytest.mark.media
CAP = 800_000
CAP_AS_SENT = unpack_remb_fci(pack_remb_fci(CAP, []))[0]  # REMB's 18-bit mantissa


def observe_rtcp(client) -> dict[str, list]:
    """Record, per kind, the RTCP packets each of ``client``'s senders handles."""
    seen: dict[str, list] = {"audio": [], "video": []}
    for sender in client.pc.getSenders():
        if sender.track is None:
            continue
        log, handle = seen[sender.track.kind], sender._handle_rtcp_packet

        async def recorded(packet, log=log, handle=handle, sender=sender):
            log.append((time.monotonic(), sender._ssrc, packet))
            await handle(packet)
        sender._handle_rtcp_packet = recorded
    return seen


def rembs(log) -> list[tuple[float, int, list[int]]]:
    return [(at, *unpack_remb_fci(p.fci)) for at, _, p in log
            if isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_APP]


def ingests(node):
    return [source._ingest for room in node.rooms.values() for source in room.sources]


def drop_video_packets(client, every: int, limit: int) -> list[int]:
    """Make ``client``'s video sender lose every ``every``-th RTP packet (not RTX)."""
    sender = next(s for s in client.pc.getSenders() if s.track and s.track.kind == "video")
    dtls, dropped = sender.transport, []
    send_rtp = dtls._send_rtp

    async def lossy(data: bytes) -> None:
        is_rtcp = 191 < data[1] < 224
        if not is_rtcp and int.from_bytes(data[8:12], "big") == sender._ssrc:
            seq = int.from_bytes(data[2:4], "big")
            if seq % every == 0 and len(dropped) < limit:
                dropped.append(seq)
                return
        await send_rtp(data)
    dtls._send_rtp = lossy
    return dropped


def test_publisher_gets_the_configured_cap_about_once_a_second_and_media_flows():
    async def scenario():
        async with running_node(publisher_max_bitrate=CAP) as n:
            speaker = await speaker_client(n, "alice", room="r1", connect=False)
            video, audio = speaker.video, speaker.audio
            seen = observe_rtcp(speaker)
            await speaker.connect()
            listener = await listener_client(n, "bob", room="r1")

            assert await wait_for(lambda: len(rembs(seen["video"])) >= 4, timeout=10)
            got = rembs(seen["video"])
            video_ssrc = seen["video"][0][1]
            assert all(bitrate == CAP_AS_SENT and ssrcs == [video_ssrc]
                       for _, bitrate, ssrcs in got), got
            gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
            assert all(0.5 < gap < 2.5 for gap in gaps), gaps  # ~1 s, not per packet
            assert rembs(seen["audio"]) == []  # one cap per connection, sent on video

            # forwarding still works, and past the first packets by the socket path
            def frames(kind):
                return [f for f in listener.frames if f.kind == kind]
            assert await wait_for(lambda: len(frames("video")) >= 30
                                  and len(frames("audio")) >= 50, timeout=10)
            sent = {payload for _, payload, _ in video.sent + audio.sent}
            assert all(f.payload in sent for f in listener.frames)
            assert all(ingest.socket_packets > 20 for ingest in ingests(n.node))
            await listener.close()
            await speaker.close()
    run(scenario())


def test_the_cap_holds_while_the_node_is_busy():
    """A node that stalls its loop still sends the cap: nothing estimates delay."""
    async def scenario():
        async with running_node(publisher_max_bitrate=CAP) as n:
            speaker = n.client("r1", "alice", "speaker")
            speaker.publish(EncodedVideoSource())
            seen = observe_rtcp(speaker)
            await speaker.connect()
            assert await wait_for(lambda: len(rembs(seen["video"])) >= 1, timeout=10)
            stalls = 0
            until = time.monotonic() + 4
            while time.monotonic() < until:  # 150 ms of busy loop every 250 ms
                time.sleep(0.15)
                stalls += 1
                await asyncio.sleep(0.1)
            got = rembs(seen["video"])
            assert len(got) >= 4 and stalls >= 10
            assert {bitrate for _, bitrate, _ in got} == {CAP_AS_SENT}, got
            await speaker.close()
    run(scenario())


def test_publisher_loss_is_reported_nacked_and_repaired():
    async def scenario():
        async with running_node(publisher_max_bitrate=CAP) as n:
            video = EncodedVideoSource()
            speaker = n.client("r1", "alice", "speaker")
            speaker.publish(video)
            seen = observe_rtcp(speaker)
            await speaker.connect()
            listener = n.client("r1", "bob", "audience")
            listener.receive(video=1)
            await listener.connect()
            assert await wait_for(lambda: len(listener.frames) >= 10, timeout=10)
            ingest = next(i for i in ingests(n.node) if not i._audio)
            forwarded, on_rtp_frame = set(), ingest._on_rtp_frame

            def recorded(codec, timestamp, packets):
                forwarded.update(seq for seq, _, _ in packets)
                on_rtp_frame(codec, timestamp, packets)
            ingest._on_rtp_frame = recorded
            dropped = drop_video_packets(speaker, every=9, limit=20)
            video_ssrc = next(s._ssrc for s in speaker.pc.getSenders() if s.track)

            def reports():
                return [r for _, _, p in seen["video"] if isinstance(p, RtcpRrPacket)
                        for r in p.reports if r.ssrc == video_ssrc]

            def nacked():
                return {seq for _, _, p in seen["video"] if isinstance(p, RtcpRtpfbPacket)
                        and p.fmt == RTCP_RTPFB_NACK for seq in p.lost}
            assert await wait_for(lambda: len(dropped) == 20 and len(reports()) >= 2
                                  and any(r.fraction_lost for r in reports()), timeout=10)
            # receiver reports carry the loss (the publisher's loss-based adaptation) ...
            assert reports()[-1].packets_lost > 0
            # ... every lost packet was NACKed, came back by RTX and went out unwrapped
            assert await wait_for(lambda: set(dropped[:-1]) <= nacked() & forwarded)
            before = len(listener.frames)
            assert await wait_for(lambda: len(listener.frames) >= before + 30, timeout=10)
            sent = {payload for _, payload, _ in video.sent}
            assert all(f.payload in sent for f in listener.frames)
            await listener.close()
            await speaker.close()
    run(scenario())
