"""A media node on 127.0.0.1 in the test's own event loop, and its clients."""
from __future__ import annotations

import asyncio
import time

from media_node.ice.loopback import restrict_to_loopback
from media_node_dev import local
from media_node_dev.sources import EncodedAudioSource, EncodedVideoSource

SECRET = "test-node-secret-0123456789abcdefghij"
NODE_ID = "node-test"

# test clients gather loopback candidates only, like the node
restrict_to_loopback()


def running_node(**overrides):
    """A standalone node (``DROPON_CONTROL_URL`` empty) on a free loopback port."""
    return local.running_node(NODE_ID, SECRET, **overrides)


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout``; returns the last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


async def speaker_client(n, participant: str, room: str = "r", video=None, audio=None,
                         connect: bool = True):
    """A speaker publishing encoded video and audio, kept as ``client.video`` and
    ``client.audio`` (new synthetic sources unless given); connected unless ``connect``
    is false (to hook the client first)."""
    client = n.client(room, participant, "speaker")
    client.video = video or EncodedVideoSource()
    client.audio = audio or EncodedAudioSource()
    client.publish(client.video)
    client.publish(client.audio)
    if connect:
        await client.connect()
    return client


async def listener_client(n, participant: str, room: str = "r", role: str = "audience",
                          audio: int = 1, video: int = 1, wait_connected: bool = False):
    """A receive-only client, connected; with ``wait_connected``, once ICE and DTLS are up."""
    client = n.client(room, participant, role)
    client.receive(audio=audio, video=video)
    await client.connect()
    if wait_connected:
        assert await wait_for(lambda: client.pc.connectionState == "connected", timeout=10)
    return client


def frames_of(listener, source) -> int:
    """Frames ``listener`` received that ``source`` sent (same bytes)."""
    sent = {payload for _, payload, _ in source.sent}
    return sum(f.payload in sent for f in listener.frames)


async def keeps_receiving(listener, source, frames: int = 15) -> bool:
    """Whether ``listener`` gets ``frames`` more of ``source``'s frames (within 5 s)."""
    before = frames_of(listener, source)
    return await wait_for(lambda: frames_of(listener, source) > before + frames)


async def close_all(*clients, vanished=()) -> None:
    """Hang up ``clients``; close the ``vanished`` ones' peers without a word to the node."""
    for client in clients:
        await client.close()
    for client in vanished:
        await client.close(hang_up=False)


def error_code(body: dict) -> str:
    """The ``code`` of an error body, checking it has the API's shape
    ``{"error": {"code", "message"}}`` and nothing else."""
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]["code"]


def run(coro):
    """Run one scenario in a fresh event loop."""
    return asyncio.run(coro)
