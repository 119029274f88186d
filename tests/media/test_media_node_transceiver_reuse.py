"""Speakers come and go on a stage; a listener's m-lines are released and reused.

The story: a listener joins a stage room and keeps one audio and one video receiver.
Speakers follow one another: one joins as a speaker and later leaves, the next is an
audience member who is promoted and later demoted, and so on. Each time a speaker
goes, the node renegotiates the listener's m-lines ``inactive``; each time a new one
comes, the node sends them on the same m-lines again and says whose they are in a
``tracks`` notice. The listener receives every speaker's very frames, and its SDP never
grows.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from media_node_dev.sources import EncodedAudioSource, EncodedVideoSource

from .helpers import listener_client, run, running_node, speaker_client, wait_for

pytestmark = pytest.mark.media
CYCLES = 4  # the first speaker and three that follow


class _Voice(EncodedAudioSource):
    """Tones of its own, so that audio payloads tell speakers apart."""

    def __init__(self, pitch: int) -> None:
        super().__init__()
        self._tones = [bytes((k * (pitch + i)) % 256 for k in range(960 * 4)) for i in range(8)]


def _m_lines(sdp: str) -> int:
    return sum(line.startswith("m=") for line in sdp.splitlines())


def _since(client, kind: str, at: float) -> list:
    return [f for f in list(client.frames) if f.kind == kind and f.at > at]


def _last_tracks(client) -> list[dict] | None:
    notices = [n for n in client.notices if n.get("type") == "tracks"]
    return notices[-1]["tracks"] if notices else None


def _directions(client) -> list[str | None]:
    return [t.currentDirection for t in client.pc.getTransceivers()]


async def _speak(n, i: int, room: str = "r"):
    """Speaker ``i``: even ones join as speakers, odd ones are promoted from the audience."""
    # a picture size and tones per speaker: no two speakers share a payload
    video, audio = EncodedVideoSource(width=160 + 32 * i), _Voice(pitch=11 + 8 * i)
    pid = f"spk{i}"
    if i % 2 == 0:
        client = await speaker_client(n, pid, room, video=video, audio=audio)
    else:
        client = await listener_client(n, pid, room, video=0, wait_connected=True)
        client.publish_on_promotion(video, audio)
        await n.node.apply_room_event(room, {"type": "ParticipantPromoted",
                                             "participantId": pid})
    return pid, client, video, audio


async def _stop_speaking(n, i: int, client, room: str = "r") -> None:
    if i % 2 == 0:
        await client.close()  # leaves (DELETE)
    else:
        await n.node.apply_room_event(room, {"type": "ParticipantDemoted",
                                             "participantId": f"spk{i}"})


def test_a_listener_receives_each_new_speaker_on_the_same_m_lines():
    async def scenario():
        async with running_node() as n:
            listener = await listener_client(n, "lst", wait_connected=True)
            transceivers = m_lines = None
            sources = []  # every earlier speaker's tracks
            others = []
            for i in range(CYCLES):
                started = time.monotonic()
                pid, speaker, video, audio = await _speak(n, i)
                assert await wait_for(lambda: len(_since(listener, "video", started)) >= 15
                                      and len(_since(listener, "audio", started)) >= 25,
                                      timeout=15), f"speaker {i}: no media"
                earlier = {p for track in sources for _, p, _ in track.sent}
                for kind, source in (("video", video), ("audio", audio)):
                    sent = {p for _, p, _ in source.sent}
                    got = _since(listener, kind, started)
                    # the listener's jitter buffer still holds the previous speaker's last
                    # frames (aiortc: 1 video frame, 4 audio frames of prefetch) and hands
                    # them out as this speaker's arrive
                    stale = next(k for k, f in enumerate(got) if f.payload in sent)
                    assert stale <= {"video": 1, "audio": 4}[kind], (i, kind, stale)
                    assert all(f.payload in earlier for f in got[:stale])
                    assert all(f.payload in sent for f in got[stale:]), f"{i}: foreign {kind}"
                    if kind == "video":
                        assert got[stale].keyframe, f"speaker {i}: starts on a delta frame"
                    assert not earlier & {f.payload for f in got[stale:]}
                sources += [video, audio]
                # the same two m-lines each time, and the listener is told whose they are
                if transceivers is None:
                    transceivers = len(listener.pc.getTransceivers())
                    m_lines = _m_lines(listener.pc.remoteDescription.sdp)
                assert len(listener.pc.getTransceivers()) == transceivers == 2
                assert _m_lines(listener.pc.remoteDescription.sdp) == m_lines
                mids = {t.mid: t.kind for t in listener.pc.getTransceivers()}
                assert await wait_for(lambda: sorted(
                    (t["mid"], t["kind"], t["participantId"]) for t in
                    _last_tracks(listener) or []) == sorted(
                    (mid, kind, pid) for mid, kind in mids.items()))
                assert set(_directions(listener)) == {"recvonly"}

                await _stop_speaking(n, i, speaker)
                others.append(speaker)
                # released: renegotiated inactive, and the notice names nobody
                assert await wait_for(lambda: set(_directions(listener)) == {"inactive"},
                                      timeout=5), _directions(listener)
                assert _last_tracks(listener) == []
                stopped = time.monotonic() + 0.3  # frames already on the wire
                await wait_for(lambda: False, timeout=0.6)
                assert not _since(listener, "video", stopped), "a gone speaker is forwarded"
            assert listener.renegotiations >= 2 * CYCLES - 1
            for client in (listener, *others):
                await client.close(hang_up=client.location is not None)

    run(scenario())


def test_a_host_keeps_publishing_while_its_sendrecv_m_lines_change_hands():
    async def scenario():
        async with running_node() as n:
            first_video = EncodedVideoSource(width=192)
            first = n.client("r", "a", "speaker")
            first.publish(first_video)
            first.publish(EncodedAudioSource())
            await first.connect()
            host_video = EncodedVideoSource()
            host = n.client("r", "host", "host")
            host.publish(host_video)  # addTrack: sendrecv, so the host receives on it too
            host.publish(EncodedAudioSource())
            await host.connect()
            watcher = n.client("r", "w", "audience")
            watcher.receive(audio=2, video=2)
            await watcher.connect()

            def from_host(since: float) -> int:
                sent = {p for _, p, _ in host_video.sent}
                return sum(f.payload in sent for f in _since(watcher, "video", since))
            assert await wait_for(lambda: sum(f.kind == "video" for f in host.frames) > 15
                                  and from_host(0) > 15, timeout=15)
            host_transceivers = len(host.pc.getTransceivers())
            assert {t.currentDirection for t in host.pc.getTransceivers()} == {"sendrecv"}

            await n.node.apply_room_event("r", {"type": "ParticipantDemoted",
                                                "participantId": "a"})
            # released to recvonly at the node: the host still sends on them
            assert await wait_for(lambda: {t.currentDirection for t in
                                           host.pc.getTransceivers()} == {"sendonly"})
            before = time.monotonic()
            assert await wait_for(lambda: from_host(before) > 15)

            started = time.monotonic()
            second_video = EncodedVideoSource(width=224)
            second = n.client("r", "b", "speaker")
            second.publish(second_video)
            second.publish(EncodedAudioSource())
            await second.connect()
            assert await wait_for(lambda: len(_since(host, "video", started)) > 15, timeout=15)
            second_sent = {p for _, p, _ in second_video.sent}
            got = _since(host, "video", started)
            stale = next(k for k, f in enumerate(got) if f.payload in second_sent)
            assert stale <= 1 and all(f.payload in second_sent for f in got[stale:])
            assert len(host.pc.getTransceivers()) == host_transceivers
            assert {t.currentDirection for t in host.pc.getTransceivers()} == {"sendrecv"}
            assert {t["participantId"] for t in _last_tracks(host)} == {"b"}
            # and the host's own media never stopped
            later = time.monotonic()
            assert await wait_for(lambda: from_host(later) > 15)
            for client in (first, host, watcher, second):
                await client.close()

    run(scenario())


# A Chromium listener that answers the node's offers the way tests/e2e/static/client.html
# does, and keeps the notices.
_CHROMIUM_LISTENER = """async ([url, token]) => {
  const lo = sdp => sdp.split("\\r\\n").filter(l => !l.startsWith("a=candidate:") ||
    l.split(" ")[4] === "127.0.0.1").join("\\r\\n");
  const pc = window.pc = new RTCPeerConnection({iceServers: []});
  window.notices = []; window.errors = []; window.renegotiations = 0;
  pc.addTransceiver("audio", {direction: "recvonly"});
  pc.addTransceiver("video", {direction: "recvonly"});
  const channel = pc.createDataChannel("signaling");
  channel.onmessage = async (event) => {
    const message = JSON.parse(event.data);
    if (message.type !== "offer") { window.notices.push(message); return; }
    try {
      await pc.setRemoteDescription({type: "offer", sdp: lo(message.sdp)});
      await pc.setLocalDescription(await pc.createAnswer());
      channel.send(JSON.stringify({type: "answer", sdp: lo(pc.localDescription.sdp)}));
      window.renegotiations += 1;
    } catch (e) { window.errors.push(String(e)); }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(done => { if (pc.iceGatheringState === "complete") done();
    pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && done()); });
  const response = await fetch(url, {method: "POST", body: lo(pc.localDescription.sdp),
    headers: {"Authorization": "Bearer " + token, "Content-Type": "application/sdp"}});
  if (response.status !== 201) throw new Error(await response.text());
  await pc.setRemoteDescription({type: "answer", sdp: lo(await response.text())});
}"""

_CHROMIUM_STATE = """async () => {
  const stats = [...(await window.pc.getStats()).values()];
  const video = stats.filter(s => s.type === "inbound-rtp" && s.kind === "video");
  return {decoded: video.reduce((n, s) => n + (s.framesDecoded || 0), 0),
          directions: window.pc.getTransceivers().map(t => t.currentDirection),
          mLines: window.pc.remoteDescription.sdp.split("\\r\\n")
            .filter(l => l.startsWith("m=")).length,
          tracks: window.notices.filter(n => n.type === "tracks").slice(-1)
            .map(n => n.tracks.map(t => t.participantId)).flat(),
          errors: window.errors, renegotiations: window.renegotiations};
}"""


@pytest.mark.browser
@pytest.mark.parametrize("joins", ["first", "after_a_speaker"])
def test_a_chromium_listener_decodes_each_new_speaker_on_the_same_m_lines(joins):
    playwright_api = pytest.importorskip("playwright.async_api",
                                         reason="Playwright is not installed")
    from tests.e2e.system import CHROMIUM, CHROMIUM_ARGS

    async def scenario():
        async with running_node() as n, playwright_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
            page = await browser.new_page()
            # joining after a speaker, the listener's m-lines carry the payload types of
            # its own offer first, and the node's re-offers use aiortc's
            first = await _speak(n, 0) if joins == "after_a_speaker" else None
            await page.evaluate(_CHROMIUM_LISTENER, [f"{n.base_url}/rooms/r/whip",
                                                     n.token("r", "lst", "audience")])
            others, state = [], None
            for i in range(CYCLES):
                before = 0 if first else (await page.evaluate(_CHROMIUM_STATE))["decoded"]
                pid, speaker, _, _ = first or await _speak(n, i)
                first = None
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    state = await page.evaluate(_CHROMIUM_STATE)
                    if state["decoded"] > before + 15 and state["tracks"] == [pid, pid]:
                        break
                    await asyncio.sleep(0.2)
                assert state["decoded"] > before + 15, (i, state)
                assert state["tracks"] == [pid, pid] and not state["errors"], state
                assert state["directions"] == ["recvonly", "recvonly"], state
                assert state["mLines"] == 3, state  # audio, video, data channel
                await _stop_speaking(n, i, speaker)
                others.append(speaker)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and state["directions"] != ["inactive"] * 2:
                    state = await page.evaluate(_CHROMIUM_STATE)
                    await asyncio.sleep(0.2)
                assert state["directions"] == ["inactive", "inactive"], state
            await browser.close()
            for client in others:
                await client.close(hang_up=client.location is not None)

    run(scenario())
