"""Control plane and media node as one system, proven with Chromium and aiortc.

The story: a speaker joins a stage room from Chromium (fake camera and microphone)
through the real join flow: a participant token from the control plane, ``join`` gives
``media {url, token}``, then a WHIP-style POST to the node. An aiortc listener decodes
the speaker's VP8 and Opus; a second Chromium in the audience decodes the video. The
host's controls go through the control plane's API only, and the node enforces them
from the room's events feed: a mute stops the frames (also one recorded while the
control plane was down: the node's feed resumes from the last event it applied), a
promotion lets the audience member publish, a kick disconnects them. A connection that closes without a goodbye
comes back to the room as a leave reported by the node. When the node dies, the room
moves to a second node and a reconnecting client is sent there.
"""
from __future__ import annotations

import time

import av
import pytest

from media_node.ice.loopback import restrict_to_loopback
from media_node_dev.client import WhipClient
from tests.e2e.system import (CHROMIUM, CHROMIUM_ARGS, LoopThread, StaticSite, start_system,
                              wait_until)

pytestmark = [pytest.mark.browser, pytest.mark.media]
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")


@pytest.fixture(scope="module")
def stage(dynamodb_endpoint, tmp_path_factory):
    """The system, the demo page, a browser and an aiortc loop; one stage room."""
    restrict_to_loopback()  # aiortc peers of this process gather 127.0.0.1 only
    system, stop_system = start_system(dynamodb_endpoint, tmp_path_factory.mktemp("e2e"))
    site, loop = StaticSite(), LoopThread()
    playwright = playwright_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    room = system.ok("POST", "/rooms", {"name": "e2e stage", "persistent": True,
                                         "policy": {"stageMode": True}})
    state = {"system": system, "site": site, "loop": loop, "browser": browser,
             "room": room["id"], "pages": {}, "tokens": {}}
    try:
        yield state
    finally:
        client = state.get("listener")
        if client is not None:
            loop.run(client.close(hang_up=False))
        browser.close()
        playwright.stop()
        loop.close()
        site.close()
        stop_system()


def open_client(stage, identity: str, role: str):
    system, room = stage["system"], stage["room"]
    token = system.grant(room, identity, role)
    page = stage["browser"].new_page()
    page.goto(f"{stage['site'].url}/client.html?api={system.api_url}&room={room}&token={token}")
    page_wait(page, "['connected', 'error'].includes(window.dropon.status)", 20)
    assert page.evaluate("window.dropon.error") is None, page.evaluate("window.dropon.error")
    stage["pages"][identity], stage["tokens"][identity] = page, token
    return page


def page_wait(page, expression: str, timeout: float = 15.0) -> None:
    """Wait for ``expression`` in the page; on timeout, show the page's own log."""
    try:
        page.wait_for_function(expression, timeout=timeout * 1000)
    except playwright_api.TimeoutError:
        raise AssertionError(f"{expression} never held; page log:\n"
                             f"{page.inner_text('#log')}\nstate: "
                             f"{page.evaluate('JSON.stringify(window.dropon.notices)')}") from None


def frames_decoded(page) -> int:
    return sum(s["framesDecoded"] for s in page.evaluate("window.inboundVideo()"))


def count(client, kind: str) -> int:
    return sum(1 for f in list(client.frames) if f.kind == kind)


def decode(frames, codec: str) -> list:
    """Decode with FFmpeg (PyAV), from the first keyframe on."""
    context, out = av.CodecContext.create(codec, "r"), []
    started = codec != "vp8"
    for frame in frames:
        started = started or frame.keyframe
        if started:
            out += context.decode(av.Packet(frame.payload))
    return out


def test_a_chromium_speaker_reaches_an_aiortc_listener_as_decodable_vp8_and_opus(stage):
    system, room = stage["system"], stage["room"]
    speaker = open_client(stage, "speaker-1", "speaker")
    assert speaker.evaluate("window.dropon.join.media.url") == \
        f"{system.node_url}/rooms/{room}/whip"
    token = system.grant(room, "listener", "audience")
    joined = system.ok("POST", f"/rooms/{room}/join", {}, token)
    assert joined["media"]["nodeId"] == system.node_id

    async def listen():
        client = WhipClient(joined["media"]["url"], joined["media"]["token"])
        client.receive(audio=1, video=1)
        await client.connect()
        return client

    client = stage["listener"] = stage["loop"].run(listen())
    wait_until(lambda: count(client, "video") >= 20 and count(client, "audio") >= 50
               and any(f.keyframe for f in client.frames), 20, what="speaker media")
    frames = list(client.frames)
    video = decode([f for f in frames if f.kind == "video"], "vp8")
    audio = decode([f for f in frames if f.kind == "audio"], "opus")
    assert len(video) >= 5 and video[0].width > 0 and video[0].height > 0
    assert len(audio) >= 20 and audio[0].samples > 0 and audio[0].sample_rate == 48000
    assigned = [e for e in system.ok("GET", f"/rooms/{room}/events")["events"]
                if e["type"] == "MediaNodeAssigned"]
    assert [e["data"]["nodeId"] for e in assigned] == [system.node_id]


def test_a_chromium_audience_member_decodes_the_speakers_video(stage):
    audience = open_client(stage, "audience-1", "audience")
    assert audience.evaluate("window.dropon.join.role") == "audience"
    wait_until(lambda: frames_decoded(audience) > 0, 20, what="decoded video in the audience")


def test_a_mute_through_the_api_stops_the_frames_at_the_node(stage):
    system, room, client = stage["system"], stage["room"], stage["listener"]
    speaker = stage["pages"]["speaker-1"]
    pid = speaker.evaluate("window.dropon.join.participantId")
    system.ok("POST", f"/rooms/{room}/participants/{pid}/mute",
              {"audio": False, "video": True, "muted": True})
    page_wait(speaker, "window.dropon.notices.some(n => n.type === 'muted' && n.kind === 'video')")
    time.sleep(0.5)  # frames already on the wire
    video, audio = count(client, "video"), count(client, "audio")
    time.sleep(1.5)
    assert count(client, "video") == video, "video still forwarded after the mute"
    assert count(client, "audio") > audio + 20, "audio should keep flowing"
    system.ok("POST", f"/rooms/{room}/participants/{pid}/mute",
              {"audio": False, "video": True, "muted": False})
    wait_until(lambda: count(client, "video") > video + 10, 15, what="video after unmute")


def test_an_event_missed_while_the_control_plane_was_down_is_caught_up(stage):
    system, room, client = stage["system"], stage["room"], stage["listener"]
    speaker = stage["pages"]["speaker-1"]
    pid = speaker.evaluate("window.dropon.join.participantId")
    api = system.control_plane_down()  # the node's long poll fails and backs off
    try:
        # a host's mute lands in the room's history while no poll can see it
        from chalicelib.application import RoomsApplication
        from chalicelib.domain.actor import Actor
        RoomsApplication(env=system.env).mute(Actor("api_key", system.key), room, pid,
                                              audio=True, video=False, muted=True)
        time.sleep(1.0)
    finally:
        api.start()
    page_wait(speaker, "window.dropon.notices.some(n => n.type === 'muted' && n.kind === 'audio')",
              20)
    time.sleep(0.5)
    audio = count(client, "audio")
    time.sleep(1.0)
    assert count(client, "audio") == audio, "audio still forwarded after the caught-up mute"
    system.ok("POST", f"/rooms/{room}/participants/{pid}/mute", {"audio": True, "muted": False})
    wait_until(lambda: count(client, "audio") > audio + 20, 15, what="audio after unmute")


def test_a_promotion_through_the_api_lets_the_audience_member_publish(stage):
    system, room = stage["system"], stage["room"]
    audience, speaker = stage["pages"]["audience-1"], stage["pages"]["speaker-1"]
    assert frames_decoded(speaker) == 0  # nobody else publishes yet
    pid = audience.evaluate("window.dropon.join.participantId")
    system.ok("POST", f"/rooms/{room}/participants/{pid}/promote", {})
    page_wait(audience, "window.dropon.publishing && window.dropon.renegotiations > 0", 20)
    assert audience.evaluate("window.dropon.error") is None
    wait_until(lambda: frames_decoded(speaker) > 0, 20, what="the promoted member's video")


def test_a_kick_through_the_api_disconnects_the_participant_at_the_node(stage):
    system, room = stage["system"], stage["room"]
    audience = stage["pages"]["audience-1"]
    wait_until(lambda: system.node()["participants"] == 3, 10, what="3 sessions on the node")
    pid = audience.evaluate("window.dropon.join.participantId")
    system.ok("POST", f"/rooms/{room}/participants/{pid}/kick", {})
    page_wait(audience, "window.dropon.notices.some(n => n.type === 'bye' && n.reason === 'kicked')")
    wait_until(lambda: system.node()["participants"] == 2, 10, what="the node to drop the session")


def test_a_connection_closed_without_goodbye_is_reported_as_a_leave(stage):
    system, room, client = stage["system"], stage["room"], stage.pop("listener")
    stage["loop"].run(client.close(hang_up=False))  # no DELETE: the node notices by itself

    def left():
        events = system.ok("GET", f"/rooms/{room}/events?limit=1000")["events"]
        return [e for e in events if e["type"] == "ParticipantLeft"]

    leave = wait_until(left, 20, what="the node's leave report")[0]
    assert leave["actor"] == {"kind": "node", "id": system.node_id}
    assert leave["data"]["reason"].startswith("connection_")
    view = system.ok("GET", f"/rooms/{room}")
    states = {p["identity"]: p["state"] for p in view["participants"]}
    assert states["listener"] == "left" and states["speaker-1"] == "joined"


def test_when_the_node_dies_the_room_moves_and_a_reconnecting_client_gets_the_new_node(stage):
    system, room = stage["system"], stage["room"]
    old = system.node_id
    new_url = system.start_node("node-e2e-2")
    system.nodes[old][0].stop()  # the first node dies: no more heartbeats
    wait_until(lambda: system.node(old)["healthy"] is False, 15, what=f"{old} to be dead")
    token = stage["tokens"]["speaker-1"]  # the speaker, told to reconnect, asks again
    grant = system.ok("POST", f"/rooms/{room}/media", {}, token)["media"]
    assert grant["nodeId"] == "node-e2e-2" and grant["url"] == f"{new_url}/rooms/{room}/whip"
    assigned = [e["data"]["nodeId"] for e in system.ok("GET", f"/rooms/{room}/events?limit=1000")[
        "events"] if e["type"] == "MediaNodeAssigned"]
    assert assigned == [old, "node-e2e-2"]

    async def reconnect():
        client = WhipClient(grant["url"], grant["token"])
        client.receive(audio=1, video=1)
        await client.connect()
        return client

    client = stage["listener"] = stage["loop"].run(reconnect())
    wait_until(lambda: client.pc.connectionState == "connected", 15, what="the new node")
    wait_until(lambda: system.node("node-e2e-2")["participants"] == 1, 10,
               what="the new node's heartbeat to count the session")
