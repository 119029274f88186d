"""Late joiners get a keyframe by a relayed PLI; later changes arrive by renegotiation."""
from __future__ import annotations

import asyncio
import time

import pytest

from media_node_dev.sources import EncodedAudioSource, EncodedVideoSource

from .helpers import listener_client, run, running_node, speaker_client, wait_for

pytestmark = pytest.mark.media


def _videos(client):
    return [f for f in client.frames if f.kind == "video"]


def test_late_joiner_starts_on_a_keyframe_the_node_requested_for_it():
    async def scenario():
        async with running_node() as n:
            video = EncodedVideoSource()
            speaker = n.client("r", "spk", "speaker")
            speaker.publish(video)
            await speaker.connect()
            early = n.client("r", "early", "audience")
            early.receive(video=1)
            await early.connect()
            assert await wait_for(lambda: len(_videos(early)) > 30)  # > 1 s of delta frames

            joined_at = time.monotonic()
            late = n.client("r", "late", "audience")
            late.receive(video=1)
            await late.connect()
            assert await wait_for(lambda: _videos(late), timeout=5)
            first = _videos(late)[0]
            assert first.keyframe
            # the publisher was asked for a keyframe after the late joiner arrived,
            # and the frame the late joiner started on is the one it encoded in reply
            asked = [t for t in video.keyframe_requests if t > joined_at]
            assert asked, "no PLI was relayed to the publisher"
            encoded = {payload: (at, key) for at, payload, key in video.sent}
            at, key = encoded[first.payload]
            assert key and at >= asked[0]
            print(f"late joiner: PLI relayed {asked[0] - joined_at:.3f}s after joining, "
                  f"first keyframe {first.at - joined_at:.3f}s after joining")
            for client in (speaker, early, late):
                await client.close()

    run(scenario())


def test_a_new_speaker_reaches_existing_listeners_by_renegotiation():
    async def scenario():
        async with running_node() as n:
            # nothing to receive yet
            listener = await listener_client(n, "lst", video=0, wait_connected=True)
            speaker = await speaker_client(n, "spk")
            video, audio = speaker.video, speaker.audio
            assert await wait_for(lambda: len(_videos(listener)) > 15, timeout=10)
            assert listener.renegotiations >= 1
            assert any(f.kind == "audio" for f in listener.frames)
            sent = {payload for _, payload, _ in video.sent + audio.sent}
            assert all(f.payload in sent for f in listener.frames)
            await speaker.close()
            await listener.close()

    run(scenario())


def test_promotion_lets_an_audience_member_publish():
    async def scenario():
        async with running_node() as n:
            host = await listener_client(n, "host", role="host")
            guest = await listener_client(n, "guest", video=0, wait_connected=True)

            video = EncodedVideoSource()
            guest.publish_on_promotion(video, EncodedAudioSource())
            await n.node.apply_room_event("r", {"type": "ParticipantPromoted",
                                                "participantId": "guest"})
            assert await wait_for(lambda: len(_videos(host)) > 15, timeout=10)
            assert {"type": "role", "role": "speaker"} in guest.notices
            assert all(f.payload in {p for _, p, _ in video.sent} for f in _videos(host))

            await n.node.apply_room_event("r", {"type": "ParticipantDemoted",
                                                "participantId": "guest"})
            await asyncio.sleep(0.3)
            frozen = len(_videos(host))
            await asyncio.sleep(0.7)
            assert len(_videos(host)) == frozen, "a demoted member is still forwarded"
            await host.close()
            await guest.close()

    run(scenario())
