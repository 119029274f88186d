"""dropon.js reconnects by itself when the room's media node dies.

Two speakers in the web app (two Chromiums) see each other through node 1. A second
node starts and node 1 stops: each page loses its connection, asks the control plane
for a new media grant, gets ``MEDIA_NODE_CHANGED`` when the room moves, reconnects to
node 2, and decodes the other's video again, with no action from the user or the test.
"""
from __future__ import annotations

import pytest

from tests.e2e.web_pages import (chromium, joined, page_wait, system_with_web,
                                  wait_decoding)

pytestmark = [pytest.mark.browser, pytest.mark.media]
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

RECORD = """() => {
  window.media = []; window.types = [];
  app.room.on("media", (m) => window.media.push(m.state));
  app.room.on("*", (m) => window.types.push(m.type));
}"""


@pytest.fixture(scope="module")
def system(dynamodb_endpoint, tmp_path_factory):
    with system_with_web(dynamodb_endpoint, tmp_path_factory.mktemp("web-move")) as running:
        yield running


def test_the_pages_follow_the_room_to_a_new_node(system):
    system, web = system
    room = system.ok("POST", "/rooms", {"name": "move", "persistent": True})["id"]
    old = system.node_id
    with chromium(playwright_api) as browser:
        pages = {}
        for identity in ("pat", "lee"):
            page = browser.new_context().new_page()
            page.goto(f"{web}/#room={room}&token={system.grant(room, identity, 'speaker')}")
            joined(page)
            pages[identity] = page
        ids = {name: page.evaluate("app.room.participantId") for name, page in pages.items()}
        wait_decoding(pages["pat"], ids["lee"])
        wait_decoding(pages["lee"], ids["pat"])
        for page in pages.values():
            page.evaluate(RECORD)

        system.start_node("node-e2e-2")
        system.nodes[old][0].stop()  # node 1 dies; the room moves once it is declared dead

        for name, page in pages.items():
            page_wait(page, "app.room.media && app.room.media.grant.nodeId === 'node-e2e-2'", 90)
            other = ids["lee" if name == "pat" else "pat"]
            wait_decoding(page, other, 10, 60)
            assert "reconnecting" in page.evaluate("window.media")
            page_wait(page, "window.types.includes('MEDIA_NODE_CHANGED')")
            joined(page)
