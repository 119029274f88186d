"""What the web app's browser tests share: Chromium under Playwright, waiting on a page,
and a page's inbound streams by participant (``getStats`` through dropon.js)."""
from __future__ import annotations

import contextlib

from tests.e2e.system import CHROMIUM, CHROMIUM_ARGS, start_system, wait_until


@contextlib.contextmanager
def chromium(playwright_api):
    """Debian's Chromium (fake camera and microphone, loopback candidates), closed on exit."""
    playwright = playwright_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@contextlib.contextmanager
def system_with_web(dynamodb_endpoint: str, logs):
    """The control plane, one media node, the room socket and the web app; yields
    ``(System, web app URL)``."""
    system, stop = start_system(dynamodb_endpoint, logs)
    try:
        _, web = system.serve_sockets_and_web()
        yield system, web
    finally:
        stop()


def page_wait(page, expression: str, timeout: float = 30.0, arg=None) -> None:
    """Wait for ``expression`` in the page; on timeout, show what the page says."""
    from playwright.sync_api import TimeoutError as PageTimeout
    try:
        page.wait_for_function(expression, arg=arg, timeout=timeout * 1000, polling=250)
    except PageTimeout:
        raise AssertionError(f"{expression} never held; the page says: "
                             f"{page.inner_text('#status')!r}") from None


def joined(page, timeout: float = 30.0) -> None:
    page_wait(page, "document.querySelector('#status').dataset.state === 'joined'", timeout)


def inbound(page, participant_id: str, kind: str) -> dict:
    """The page's busiest inbound stream of ``kind`` from ``participant_id``."""
    stats = page.evaluate("app.room.stats()")
    streams = [s for s in stats if s["participantId"] == participant_id and s["kind"] == kind]
    return max(streams, key=lambda s: s["packetsReceived"], default={})


def wait_decoding(page, participant_id: str, frames: int = 30, timeout: float = 45.0) -> None:
    """Wait until the page has decoded more than ``frames`` of ``participant_id``'s video
    (polled from here: ``wait_for_function`` would take a Promise for a true value)."""
    wait_until(lambda: inbound(page, participant_id, "video").get("framesDecoded", 0) > frames,
               timeout, 0.25, f"{frames} frames of {participant_id}'s video")
