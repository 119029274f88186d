"""A speaker publishes VP8 + Opus; listeners receive the very same encoded frames."""
from __future__ import annotations

import asyncio

import pytest

from media_node_dev.sources import EncodedAudioSource, EncodedVideoSource

from .helpers import listener_client, run, running_node, speaker_client, wait_for

pytestmark = pytest.mark.media


@pytest.mark.parametrize("forwarding", ["direct", "pack"])
def test_frames_are_forwarded_byte_identical_to_every_subscriber(forwarding):
    async def scenario():
        async with running_node(forwarding=forwarding) as n:
            speaker = await speaker_client(n, "alice", room="r1")
            video, audio = speaker.video, speaker.audio
            listeners = [await listener_client(n, f"l{i}", room="r1") for i in range(2)]

            def got_enough():
                return all(sum(f.kind == "video" for f in c.frames) >= 45 and
                           sum(f.kind == "audio" for f in c.frames) >= 75 for c in listeners)
            assert await wait_for(got_enough, timeout=10), [len(c.frames) for c in listeners]

            sent = {payload for _, payload, _ in video.sent + audio.sent}
            for listener in listeners:
                videos = [f for f in listener.frames if f.kind == "video"]
                assert videos[0].keyframe, "a subscriber starts at a keyframe"
                # forwarded, not re-encoded: every payload is one the speaker encoded
                assert all(f.payload in sent for f in listener.frames)
            # the speaker does not receive itself
            assert speaker.frames == []
            sinks = [sink for s in n.node.sessions.values() for sink in s.forwarded.values()]
            assert len(sinks) == 4
            assert all(type(sink).__name__ == {"direct": "RtpWriter", "pack": "ForwardedTrack"}[
                forwarding] for sink in sinks)

            # sender reports reach the listeners (lip sync, statistics)
            async def reported_packets(listener):
                sent = []
                for receiver in listener.pc.getReceivers():
                    stats = await receiver.getStats()
                    sent += [s.packetsSent for s in stats.values()
                             if s.type == "remote-outbound-rtp"]
                return sent
            for listener in listeners:
                deadline = asyncio.get_running_loop().time() + 6
                while len(await reported_packets(listener)) < 2 and \
                        asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.2)
                assert len(await reported_packets(listener)) == 2
                assert all(count > 0 for count in await reported_packets(listener))
            for client in [speaker, *listeners]:
                assert await client.close() == 200
            assert await wait_for(lambda: not n.node.sessions)

    run(scenario())


def test_h264_is_forwarded_when_the_publisher_sends_it():
    from aiortc import RTCRtpSender
    from aiortc.codecs.h264 import H264Encoder

    def nal_units(frame: bytes) -> list[bytes]:
        return list(H264Encoder._split_bitstream(frame))

    async def scenario():
        async with running_node() as n:
            video = EncodedVideoSource(codec_name="h264")
            speaker = n.client("r1", "alice", "speaker")
            speaker.publish(video)
            h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs
                    if c.mimeType in ("video/H264", "video/rtx")]
            speaker.pc.getTransceivers()[0].setCodecPreferences(h264)
            await speaker.connect()
            listener = n.client("r1", "bob", "audience")
            listener.receive(video=1)  # offers VP8 first, then H.264
            await listener.connect()
            assert await wait_for(lambda: len(listener.frames) >= 30, timeout=10)

            assert n.node.rooms["r1"].sources[0].mime_type == "video/H264"
            assert listener.frames[0].keyframe
            sent = {tuple(nal_units(payload)) for _, payload, _ in video.sent}
            assert all(tuple(nal_units(f.payload)) in sent for f in listener.frames)
            await speaker.close()
            await listener.close()

    run(scenario())


def test_a_listener_receives_two_speakers_on_one_offer():
    """Two transceivers of a kind in one offer (aiortc's balanced bundling broke this)."""
    async def scenario():
        async with running_node() as n:
            videos = [EncodedVideoSource(), EncodedVideoSource()]
            speakers = [n.client("r1", f"s{i}", "speaker") for i in range(2)]
            for speaker, video in zip(speakers, videos):
                speaker.publish(video)
                speaker.publish(EncodedAudioSource())
                await speaker.connect()
            listener = n.client("r1", "l", "audience")
            listener.receive(audio=2, video=2)
            await listener.connect()

            def from_each():
                got = {f.payload for f in listener.frames if f.kind == "video"}
                return [len(got & {p for _, p, _ in v.sent}) for v in videos]
            assert await wait_for(lambda: min(from_each()) >= 30, timeout=10), from_each()
            assert listener.renegotiations == 0  # both pairs fitted the first answer
            for client in (*speakers, listener):
                await client.close()

    run(scenario())
