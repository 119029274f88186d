"""An audio-only room on the node: a speaker who offers a camera is heard, and their video
is answered inactive, so it is never sent, forwarded or recorded; a room that becomes
audio-only stops forwarding the video already flowing. The same room not audio-only
forwards the video (what makes these tests able to fail)."""
from __future__ import annotations

import asyncio

import pytest

from media_node_dev.sources import EncodedAudioSource, EncodedVideoSource

from .helpers import close_all, listener_client, run, running_node, wait_for

pytestmark = pytest.mark.media


def _count(client, kind: str) -> int:
    return sum(f.kind == kind for f in client.frames)


async def _camera_speaker(n, audio_only: bool | None, seq: int | None = None):
    """A speaker whose offer sends audio and video, with a token saying ``audio_only``."""
    speaker = n.client("r", "spk", "speaker", audio_only=audio_only, seq=seq)
    speaker.video, speaker.audio = EncodedVideoSource(), EncodedAudioSource()
    speaker.publish(speaker.video)
    speaker.publish(speaker.audio)
    await speaker.connect()
    return speaker


def _video_direction(client) -> str | None:
    [video] = [t for t in client.pc.getTransceivers() if t.kind == "video"]
    return video.currentDirection


@pytest.mark.parametrize("audio_only", [True, False])
def test_an_audio_only_rooms_speaker_is_heard_and_their_camera_never_sent(audio_only):
    async def scenario():
        async with running_node() as n:
            speaker = await _camera_speaker(n, audio_only, seq=4)
            # a later token that does not carry the claim (minted before it existed) and
            # is no newer than the speaker's leaves the room as it is
            listener = await listener_client(n, "lst")
            assert await wait_for(lambda: _count(listener, "audio") > 50, timeout=10)
            if not audio_only:
                assert await wait_for(lambda: _count(listener, "video") > 30)
                assert _video_direction(speaker) == "sendonly"
                return await close_all(speaker, listener)
            await asyncio.sleep(1.0)  # time for video to arrive, were it forwarded
            assert _count(listener, "video") == 0, "video reached the listener"
            assert _video_direction(speaker) == "inactive", "the camera's m-line is live"
            assert speaker.video.sent == [], "the speaker's client sent video"
            assert [s.kind for s in n.node.rooms["r"].sources] == ["audio"]
            assert speaker.pc.connectionState == "connected"
            await close_all(speaker, listener)

    run(scenario())


def test_a_room_that_becomes_audio_only_stops_forwarding_video_and_keeps_the_sound():
    async def scenario():
        async with running_node() as n:
            speaker = await _camera_speaker(n, audio_only=False, seq=4)
            listener = await listener_client(n, "lst")
            assert await wait_for(lambda: _count(listener, "video") > 30, timeout=10)
            policy = {"maxParticipants": 64, "audioOnly": True}
            await n.node.apply_room_event("r", {"seq": 5, "type": "PolicyChanged", "data": {
                "changes": {"audioOnly": True}, "policy": policy}})
            assert [s.kind for s in n.node.rooms["r"].sources] == ["audio"]
            # the feed replays an older change: it does not undo the newer one
            await n.node.apply_room_event("r", {"seq": 2, "type": "PolicyChanged", "data": {
                "changes": {"audioOnly": False}, "policy": {**policy, "audioOnly": False}}})
            assert n.node.rooms["r"].policy.audio_only
            await asyncio.sleep(0.3)  # frames already in flight may still land
            video, audio = _count(listener, "video"), _count(listener, "audio")
            await asyncio.sleep(1.0)
            assert _count(listener, "video") == video, "video still forwarded"
            assert _count(listener, "audio") > audio + 30, "the sound stopped too"
            assert speaker.pc.connectionState == "connected"
            await close_all(speaker, listener)

    run(scenario())
