"""A peer that vanishes (no ICE, no RTCP, nothing) is ended as ``silent`` and reported.

Real aiortc peers through the node's HTTP endpoints; a vanished peer's UDP sockets are
closed under it (as when a laptop loses its Wi-Fi), so it sends nothing at all: no
DTLS close_notify, no consent check, no RTCP.
"""
from __future__ import annotations

import asyncio

import aioice.ice
import pytest

from media_node.config import NodeConfig
from media_node.sources import EncodedAudioSource, EncodedVideoSource

from .helpers import run, running_node, wait_for

SILENT = 2.0  # DROPON_SILENT_TIMEOUT for these tests


def vanish(client) -> None:
    """Close the client's ICE sockets without a word: nothing it does reaches the node."""
    dtls = {id(t.receiver.transport): t.receiver.transport for t in client.pc.getTransceivers()}
    for transport in dtls.values():
        for protocol in transport.transport._connection._protocols:
            protocol.transport.abort()


def frames_of(listener, source) -> int:
    """Frames ``listener`` received that ``source`` sent (same bytes)."""
    sent = {payload for _, payload, _ in source.sent}
    return sum(f.payload in sent for f in listener.frames)


def reasons(n, participant: str) -> list[str]:
    """Leaves of ``participant`` reported to the (standalone) control plane."""
    return [reason for _, pid, reason in n.node.control_plane.disconnected if pid == participant]


async def _publisher(n, participant, room="r"):
    client = n.client(room, participant, "speaker")
    client.video, client.audio = EncodedVideoSource(), EncodedAudioSource()
    client.publish(client.video)
    client.publish(client.audio)
    await client.connect()
    return client


async def _listener(n, participant, room="r", video=1):
    client = n.client(room, participant, "audience")
    client.receive(audio=1, video=video)
    await client.connect()
    return client


@pytest.mark.media
def test_a_vanished_subscriber_is_ended_as_silent_and_reported_others_keep_receiving():
    async def scenario():
        async with running_node(silent_timeout=SILENT) as n:
            speaker = await _publisher(n, "spk")
            stays, gone = await _listener(n, "lst"), await _listener(n, "gone")
            assert await wait_for(lambda: frames_of(stays, speaker.video) > 10
                                  and frames_of(gone, speaker.video) > 10)
            vanish(gone)
            assert await wait_for(lambda: reasons(n, "gone"), timeout=SILENT + 10)
            assert reasons(n, "gone") == ["silent"]
            assert "gone" not in n.node.rooms["r"].sessions
            assert len(n.node.liveness) == 2

            before = frames_of(stays, speaker.video)
            assert await wait_for(lambda: frames_of(stays, speaker.video) > before + 15)
            assert not reasons(n, "lst") and not reasons(n, "spk")
            for client in (speaker, stays):
                await client.close()
            await gone.close(hang_up=False)

    run(scenario())


@pytest.mark.media
def test_a_vanished_publisher_is_ended_as_silent_and_its_listeners_keep_the_other_speaker():
    async def scenario():
        async with running_node(silent_timeout=SILENT) as n:
            speaker = await _publisher(n, "spk")
            listener = await _listener(n, "lst", video=2)
            gone = await _publisher(n, "gone")  # reaches the listener by renegotiation
            assert await wait_for(lambda: frames_of(listener, speaker.video) > 10
                                  and frames_of(listener, gone.video) > 10, timeout=10)
            vanish(gone)
            assert await wait_for(lambda: reasons(n, "gone"), timeout=SILENT + 10)
            assert reasons(n, "gone") == ["silent"]
            assert all(s.publisher_id != "gone" for s in n.node.rooms["r"].sources)

            before = frames_of(listener, speaker.video)
            assert await wait_for(lambda: frames_of(listener, speaker.video) > before + 15)
            assert not reasons(n, "lst") and not reasons(n, "spk")
            for client in (speaker, listener):
                await client.close()
            await gone.close(hang_up=False)

    run(scenario())


@pytest.mark.media
def test_a_healthy_receive_only_subscriber_outlives_the_timeout():
    # it sends only RTCP receiver reports (~1/s) and consent checks
    async def scenario():
        async with running_node(silent_timeout=SILENT) as n:
            speaker = await _publisher(n, "spk")
            listener = await _listener(n, "lst")
            assert await wait_for(lambda: frames_of(listener, speaker.video) > 10)
            await asyncio.sleep(4 * SILENT)
            assert not n.node.control_plane.disconnected
            assert set(n.node.rooms["r"].sessions) == {"spk", "lst"}
            before = frames_of(listener, speaker.video)
            assert await wait_for(lambda: frames_of(listener, speaker.video) > before + 15)
            for client in (speaker, listener):
                await client.close()

    run(scenario())


@pytest.mark.media
def test_a_listener_in_a_room_without_speakers_is_kept_by_ice_consent_alone():
    # nothing to receive, so no RTCP: only its consent checks and answers to the node's
    timeout = 8.0
    async def scenario():
        async with running_node(silent_timeout=timeout) as n:
            listener = await _listener(n, "lst")
            assert await wait_for(lambda: len(n.node.liveness) == 1)
            await asyncio.sleep(2.5 * timeout)
            assert not n.node.control_plane.disconnected
            assert set(n.node.rooms["r"].sessions) == {"lst"}
            assert n.node.liveness.silent_for(n.node.rooms["r"].sessions["lst"]) < timeout
            await listener.close()

    run(scenario())


@pytest.mark.media
def test_unanswered_consent_checks_do_not_close_a_peer_the_node_still_hears(monkeypatch, caplog):
    # the node's consent checks go unanswered (as when its own loop lags behind the
    # answers) while the peer's RTCP keeps arriving: consent is checked again, not closed
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 1)
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", aioice.ice.CONSENT_FAILURES)

    async def scenario():
        async with running_node(silent_timeout=SILENT, consent_failures=2) as n:
            speaker = await _publisher(n, "spk")
            listener = await _listener(n, "lst")
            assert await wait_for(lambda: frames_of(listener, speaker.video) > 10)
            connection = listener.pc.getTransceivers()[0].receiver.transport.transport._connection
            connection.request_received = lambda *args: None  # answers nothing from now on
            reported = n.node.control_plane.disconnected
            await wait_for(lambda: caplog.text.count("consent unanswered") >= 2 or reported,
                           timeout=15)
            assert not reported, "closed on consent although its RTCP kept arriving"
            assert caplog.text.count("consent unanswered") >= 2
            before = frames_of(listener, speaker.video)
            assert await wait_for(lambda: frames_of(listener, speaker.video) > before + 15)
            for client in (speaker, listener):
                await client.close()

    run(scenario())


ENV = {"DROPON_NODE_SECRET": "s" * 32}


def test_silent_timeout_is_read_from_the_environment_with_a_default_of_12_s():
    assert NodeConfig.from_env(ENV).silent_timeout == 12.0
    assert NodeConfig.from_env({**ENV, "DROPON_SILENT_TIMEOUT": "4.5"}).silent_timeout == 4.5


@pytest.mark.parametrize("value, message", [
    ("soon", "DROPON_SILENT_TIMEOUT must be a number"),
    ("1", "DROPON_SILENT_TIMEOUT must be within 2-300 s"),
    ("0", "within 2-300"),
    ("-5", "within 2-300"),
    ("301", "within 2-300"),
    ("nan", "within 2-300"),
])
def test_a_bad_silent_timeout_stops_the_node_with_a_message_naming_the_variable(value, message):
    with pytest.raises(ValueError, match=message):
        NodeConfig.from_env({**ENV, "DROPON_SILENT_TIMEOUT": value})
    with pytest.raises(ValueError, match="DROPON_SILENT_TIMEOUT"):
        NodeConfig(node_id="n", node_secret="s" * 32, silent_timeout=1.0)
