"""The node enforces roles, mutes, kicks and capacity on its own."""
from __future__ import annotations

import asyncio
import time

import pytest

from media_node_dev.client import SignalingRefused
from media_node_dev.sources import EncodedVideoSource

from .helpers import listener_client, run, running_node, speaker_client, wait_for

pytestmark = pytest.mark.media


def _count(client, kind):
    return sum(f.kind == kind for f in client.frames)


async def _speaker_and_listener(n, room="r"):
    speaker = await speaker_client(n, "spk", room)
    listener = await listener_client(n, "lst", room)
    assert await wait_for(lambda: _count(listener, "video") > 10 and _count(listener, "audio") > 10)
    return speaker, listener


def test_audience_offer_that_sends_is_refused_with_403():
    async def scenario():
        async with running_node() as n:
            intruder = n.client("r", "eve", "audience")
            intruder.publish(EncodedVideoSource())
            with pytest.raises(SignalingRefused) as refused:
                await intruder.connect()
            assert refused.value.status == 403
            assert refused.value.code == "audience_cannot_publish"
            assert n.node.sessions == {}
            await intruder.close(hang_up=False)

    run(scenario())


def test_mute_stops_forwarding_and_tells_the_participant_unmute_resumes():
    async def scenario():
        async with running_node() as n:
            speaker, listener = await _speaker_and_listener(n)
            await n.node.apply_room_event("r", {"type": "ParticipantMuted",
                                                "participantId": "spk", "video": True})
            await asyncio.sleep(0.3)  # frames already in flight may still land
            frozen_video, audio_before = _count(listener, "video"), _count(listener, "audio")
            await asyncio.sleep(1.0)
            assert _count(listener, "video") == frozen_video, "muted video still forwarded"
            assert _count(listener, "audio") > audio_before + 20, "audio was not muted"
            assert {"type": "muted", "kind": "video"} in speaker.notices

            unmuted_at = time.monotonic()
            await n.node.apply_room_event("r", {"type": "ParticipantUnmuted",
                                                "participantId": "spk", "video": True})
            assert await wait_for(lambda: _count(listener, "video") > frozen_video + 10)
            # the client's jitter buffer releases a frame when the next one starts,
            # so match received payloads to the time the speaker encoded them
            encoded_at = {payload: at for at, payload, _ in speaker.video.sent}
            resumed = next(f for f in listener.frames
                           if f.kind == "video" and encoded_at[f.payload] > unmuted_at)
            assert resumed.keyframe, "forwarding resumes at a keyframe"
            assert {"type": "unmuted", "kind": "video"} in speaker.notices
            await speaker.close()
            await listener.close()

    run(scenario())


async def _refused_with_old_token(again, old, code):
    """``again`` reconnects with ``old``'s media token and is refused 403 ``code``."""
    again.token = old.token
    with pytest.raises(SignalingRefused) as refused:
        await again.connect()
    assert refused.value.status == 403 and refused.value.code == code


def test_kick_disconnects_and_the_old_token_is_refused():
    async def scenario():
        async with running_node() as n:
            speaker, listener = await _speaker_and_listener(n)
            await n.node.apply_room_event("r", {"type": "ParticipantKicked",
                                                "participantId": "spk"})
            assert "spk" not in n.node.rooms["r"].sessions
            assert await wait_for(lambda: speaker.pc.connectionState in ("closed", "failed"),
                                  timeout=10)
            frozen = _count(listener, "video")
            await asyncio.sleep(0.5)
            assert _count(listener, "video") == frozen

            again = n.client("r", "spk", "speaker")
            again.publish(EncodedVideoSource())
            await _refused_with_old_token(again, speaker, "kicked")
            for client in (speaker, again, listener):
                await client.close(hang_up=False)

    run(scenario())


def test_a_departed_session_cannot_come_back_with_its_old_token():
    async def scenario():
        async with running_node() as n:
            speaker, listener = await _speaker_and_listener(n)
            await n.node.apply_room_event("r", {"type": "ParticipantLeft",
                                                "participantId": "lst", "reason": "left"})
            assert "lst" not in n.node.rooms["r"].sessions
            again = n.client("r", "lst", "audience")
            again.receive(audio=1, video=1)
            await _refused_with_old_token(again, listener, "participant_left")
            for client in (speaker, again, listener):
                await client.close(hang_up=False)

    run(scenario())


def test_max_participants_holds_at_the_node():
    async def scenario():
        async with running_node() as n:
            await n.node.apply_room_event("r", {"type": "PolicyChanged",
                                                "policy": {"maxParticipants": 2}})
            clients = [n.client("r", f"p{i}", "audience") for i in range(3)]
            for client in clients[:2]:
                client.receive(audio=1)
                await client.connect()
            clients[2].receive(audio=1)
            with pytest.raises(SignalingRefused) as refused:
                await clients[2].connect()
            assert refused.value.status == 403 and refused.value.code == "room_full"
            for client in clients:
                await client.close(hang_up=client.location is not None)

    run(scenario())


def test_a_dropped_connection_is_closed_and_reported_as_a_leave():
    async def scenario():
        async with running_node() as n:
            speaker, listener = await _speaker_and_listener(n)
            await listener.close(hang_up=False)  # vanish without DELETE
            reported = n.node.control_plane.disconnected
            assert await wait_for(lambda: any(p == "lst" for _, p, _ in reported), timeout=40)
            assert "lst" not in n.node.rooms["r"].sessions
            await speaker.close()

    run(scenario())
