"""P2P rooms carry media: peers join through the API, signal over the room's real
WebSocket, and send each other audio and video directly, with no media node.

The story: two aiortc peers join a P2P room and each decodes the other's VP8 and Opus;
when the host kicks one, the other closes its connection and the kicked one's later
signals are refused. In a stage room, an audience member's offer to send is refused, and
its receive-only offer brings it the host's media. Two headless Chromium pages do the
same as the aiortc pair through a coturn relay on 127.0.0.1, with the TURN credential
their join answers carry (``iceTransportPolicy: "relay"``). Everything stays on
loopback: aiortc gathers 127.0.0.1 only, Chromium uses relay candidates only.
"""
from __future__ import annotations

import asyncio
import secrets

import pytest

from media_node.ice.loopback import restrict_to_loopback
from tests.e2e.p2p_peers import AiortcPeer, coturn, until
from tests.e2e.system import CHROMIUM, CHROMIUM_ARGS, StaticSite, wait_until
from tests.integration.realtime_support import Stack

pytestmark = [pytest.mark.media, pytest.mark.timeout(300)]
TURN_SECRET = secrets.token_hex(16)


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint, tmp_path_factory):
    logs = tmp_path_factory.mktemp("p2p-media")
    relay = coturn(logs, TURN_SECRET)
    env = {}
    if relay is not None:
        relay.start()
        env = {"DROPON_TURN_URLS": f"turn:127.0.0.1:{relay.port}?transport=udp",
               "DROPON_TURN_SECRET": TURN_SECRET}
    running = Stack(dynamodb_endpoint, logs, env=env).start()
    running.relay = relay
    try:
        yield running
    finally:
        running.stop()
        if relay is not None:
            relay.stop()


def run(coroutine):
    restrict_to_loopback()  # aiortc peers of this process gather 127.0.0.1 only
    return asyncio.run(coroutine)


def test_two_aiortc_peers_decode_each_other_and_a_kicked_peers_signals_are_refused(stack):
    room = stack.room(mediaMode="P2P")
    host, guest = stack.token(room, "ada", "host"), stack.token(room, "bo")

    async def story():
        ada = await AiortcPeer.join_room(stack.ws_url, room, host)
        bo = await AiortcPeer.join_room(stack.ws_url, room, guest)
        try:
            assert (await ada.offer(bo.pid))["type"] == "REPLY"
            await until(lambda: min(ada.decoded["video"], bo.decoded["video"]) >= 10
                        and min(ada.decoded["audio"], bo.decoded["audio"]) >= 20,
                        "each peer to decode the other's audio and video")
            assert ada.sizes == bo.sizes == {(160, 120)}
            await asyncio.get_running_loop().run_in_executor(None, lambda: stack.ok(
                "POST", f"/rooms/{room}/participants/{bo.pid}/kick", token=host))
            await until(lambda: bo.pid not in ada.pcs, "the host to close the kicked peer")
            refused = await bo.signal(ada.pid, {"type": "candidate", "candidate": None})
            assert (refused["type"], refused["code"]) == ("ERROR", "banned")
            again = await bo.offer(ada.pid)
            assert (again["type"], again["code"]) == ("ERROR", "banned")
        finally:
            await ada.close()
            await bo.close()

    run(story())


def test_an_audience_member_cannot_offer_to_send_but_receives_the_host(stack):
    room = stack.room(mediaMode="P2P", stageMode=True)
    host, listener = stack.token(room, "ada", "host"), stack.token(room, "sam", "audience")

    async def story():
        ada = await AiortcPeer.join_room(stack.ws_url, room, host)
        sam = await AiortcPeer.join_room(stack.ws_url, room, listener)
        try:
            refused = await sam.offer(ada.pid)
            assert (refused["type"], refused["code"]) == ("ERROR", "cannot_send_media")
            await sam.hang_up(ada.pid)
            assert (await sam.offer(ada.pid, receive_only=True))["type"] == "REPLY"
            await until(lambda: sam.decoded["video"] >= 10 and sam.decoded["audio"] >= 20,
                        "the audience member to decode the host")
            assert ada.decoded == {"audio": 0, "video": 0}
        finally:
            await ada.close()
            await sam.close()

    run(story())


@pytest.mark.browser
def test_two_chromium_pages_exchange_audio_and_video_through_the_turn_relay(stack):
    if stack.relay is None:
        pytest.skip("coturn (turnserver) is not installed: scripts/bootstrap-system.sh")
    playwright_api = pytest.importorskip("playwright.sync_api")
    room = stack.room(mediaMode="P2P")
    site, playwright = StaticSite(), playwright_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        pages = []
        for identity, role in (("ada", "host"), ("bo", "speaker")):
            page = browser.new_page()
            page.goto(f"{site.url}/p2p.html?ws={stack.ws_url}&room={room}&relay=1"
                      f"&token={stack.token(room, identity, role)}")
            page.wait_for_function("window.p2p.status === 'joined'", timeout=30000)
            pages.append(page)
        ada, bo = pages
        ada_id, bo_id = (p.evaluate("window.p2p.join.participantId") for p in pages)
        turn = ada.evaluate("window.p2p.join.iceServers")[0]
        assert turn["username"].endswith(":" + ada_id) and "credential" in turn
        ada.evaluate(f"window.p2pCall('{bo_id}')")

        def flowing(page):
            rows = page.evaluate("window.p2pStats()")
            return rows and all(r["framesDecoded"] >= 10 and r["audioSamples"] > 0
                                for r in rows) and rows

        for page in pages:
            rows = wait_until(lambda: flowing(page), 45, what="decoded frames in Chromium")
            assert [r["localCandidateType"] for r in rows] == ["relay"]
        stack.ok("POST", f"/rooms/{room}/participants/{bo_id}/kick")
        ada.wait_for_function(f"window.p2p.closed.includes('{bo_id}')", timeout=30000)
        bo.evaluate(f"window.p2pCall('{ada_id}')")
        bo.wait_for_function("window.p2p.errors.some(e => e.code === 'banned')", timeout=30000)
        assert ada.evaluate("window.p2p.errors") == []
    finally:
        browser.close()
        playwright.stop()
        site.close()
