"""A peer that vanishes (no ICE, no RTCP, nothing) is ended as ``silent`` and reported.

Real aiortc peers through the node's HTTP endpoints; a vanished peer's UDP sockets are
closed under it (as when a laptop loses its Wi-Fi), so it sends nothing at all: no
DTLS close_notify, no consent check, no RTCP.
"""
from __future__ import annotations

import asyncio
import time

import aioice.ice
import pytest

from media_node.config import NodeConfig
from media_node.sfu.liveness import ReceiveLiveness
from media_node_dev import local

from .helpers import (NODE_ID, close_all, frames_of, keeps_receiving, listener_client, run,
                      running_node, speaker_client, wait_for)
from .test_media_node_control_plane import SECRET as CONTROL_SECRET
from .test_media_node_control_plane import ControlPlaneRoutes
from .test_media_node_control_plane import control_plane_routes as serve_routes

SILENT = 2.0  # DROPON_SILENT_TIMEOUT for these tests


def vanish(client) -> None:
    """Close the client's ICE sockets without a word: nothing it does reaches the node."""
    dtls = {id(t.receiver.transport): t.receiver.transport for t in client.pc.getTransceivers()}
    for transport in dtls.values():
        for protocol in transport.transport._connection._protocols:
            protocol.transport.abort()


def reasons(n, participant: str) -> list[str]:
    """Leaves of ``participant`` reported to the (standalone) control plane."""
    return [reason for _, pid, reason in n.node.control_plane.disconnected if pid == participant]


def control_plane_routes():
    """The control plane's node-facing routes on 127.0.0.1, with no room events."""
    routes = ControlPlaneRoutes()
    routes.events = []
    return serve_routes(routes)


@pytest.mark.media
def test_a_vanished_subscriber_is_ended_as_silent_and_reported_others_keep_receiving():
    # the node reports to a control plane over HTTP (node token, one 503 retried)
    async def scenario():
        async with control_plane_routes() as plane, local.running_node(
                NODE_ID, CONTROL_SECRET, control_url=plane.url, silent_timeout=SILENT) as n:
            speaker = await speaker_client(n, "spk")
            stays, gone = await listener_client(n, "lst"), await listener_client(n, "gone")
            assert await wait_for(lambda: frames_of(stays, speaker.video) > 10
                                  and frames_of(gone, speaker.video) > 10)
            vanish(gone)
            assert await wait_for(lambda: plane.leaves, timeout=SILENT + 10)
            assert plane.leaves == [("r", "gone", {"reason": "silent"})]
            assert plane.issuers == {f"node:{NODE_ID}"}
            assert "gone" not in n.node.rooms["r"].sessions
            assert len(n.node.liveness) == 2

            assert await keeps_receiving(stays, speaker.video)
            assert [pid for _, pid, _ in plane.leaves] == ["gone"]
            await close_all(speaker, stays, vanished=[gone])

    run(scenario())


@pytest.mark.media
def test_a_vanished_publisher_is_ended_as_silent_and_its_listeners_keep_the_other_speaker():
    async def scenario():
        async with running_node(silent_timeout=SILENT) as n:
            speaker = await speaker_client(n, "spk")
            listener = await listener_client(n, "lst", video=2)
            gone = await speaker_client(n, "gone")  # reaches the listener by renegotiation
            assert await wait_for(lambda: frames_of(listener, speaker.video) > 10
                                  and frames_of(listener, gone.video) > 10, timeout=10)
            vanish(gone)
            assert await wait_for(lambda: reasons(n, "gone"), timeout=SILENT + 10)
            assert reasons(n, "gone") == ["silent"]
            assert all(s.publisher_id != "gone" for s in n.node.rooms["r"].sources)

            assert await keeps_receiving(listener, speaker.video)
            assert not reasons(n, "lst") and not reasons(n, "spk")
            await close_all(speaker, listener, vanished=[gone])

    run(scenario())


@pytest.mark.media
def test_a_healthy_receive_only_subscriber_outlives_the_timeout():
    # it sends only RTCP receiver reports (~1/s) and consent checks
    async def scenario():
        async with running_node(silent_timeout=SILENT) as n:
            speaker = await speaker_client(n, "spk")
            listener = await listener_client(n, "lst")
            assert await wait_for(lambda: frames_of(listener, speaker.video) > 10)
            await asyncio.sleep(4 * SILENT)
            assert not n.node.control_plane.disconnected
            assert set(n.node.rooms["r"].sessions) == {"spk", "lst"}
            assert await keeps_receiving(listener, speaker.video)
            await close_all(speaker, listener)

    run(scenario())


@pytest.mark.media
def test_a_listener_in_a_room_without_speakers_is_kept_by_ice_consent_alone():
    # nothing to receive, so no RTCP: only its consent checks and answers to the node's
    timeout = 8.0
    async def scenario():
        async with running_node(silent_timeout=timeout) as n:
            listener = await listener_client(n, "lst")
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
            speaker = await speaker_client(n, "spk")
            listener = await listener_client(n, "lst")
            assert await wait_for(lambda: frames_of(listener, speaker.video) > 10)
            connection = listener.pc.getTransceivers()[0].receiver.transport.transport._connection
            connection.request_received = lambda *args: None  # answers nothing from now on
            reported = n.node.control_plane.disconnected
            await wait_for(lambda: caplog.text.count("consent unanswered") >= 2 or reported,
                           timeout=15)
            assert not reported, "closed on consent although its RTCP kept arriving"
            assert caplog.text.count("consent unanswered") >= 2
            assert await keeps_receiving(listener, speaker.video)
            await close_all(speaker, listener)

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


# --- the watchdog's logic, on stand-ins for aiortc's transports (no I/O) ---------------

class FakeConnection:
    def __init__(self) -> None:
        self._protocols, self._query_consent_task, self.closed = [], None, False

    def check_incoming(self, message, addr, protocol) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


class FakeDtls:
    def __init__(self) -> None:
        self._RTCDtlsTransport__rx_packets = 0
        self.transport = type("Ice", (), {"_connection": FakeConnection()})()


class FakeSession:
    def __init__(self, name: str) -> None:
        self.id = self.participant_id = name
        self.closed = False
        self.dtls = FakeDtls()
        transceiver = type("T", (), {"receiver": type("R", (), {"transport": self.dtls})()})()
        self.pc = type("PC", (), {"sctp": None, "getTransceivers": lambda _: [transceiver]})()


def _watchdog(timeout=0.3, interval=0.05):
    ended: list[str] = []
    liveness = ReceiveLiveness(timeout, lambda s: ended.append(s.id), interval=interval)
    return liveness, ended


def test_the_watchdog_ends_only_the_peer_whose_counters_stopped():
    async def scenario():
        liveness, ended = _watchdog()
        talking, quiet = FakeSession("talking"), FakeSession("quiet")
        liveness.watch(talking)
        liveness.watch(quiet)
        for _ in range(12):  # 0.6 s, twice the timeout
            talking.dtls._RTCDtlsTransport__rx_packets += 1
            await asyncio.sleep(0.05)
        assert ended == ["quiet"] and len(liveness) == 1
        # an authenticated STUN check counts too
        for _ in range(12):
            talking.dtls.transport._connection.check_incoming(None, None, None)
            await asyncio.sleep(0.05)
        assert ended == ["quiet"]
        liveness.close()

    run(scenario())


def test_after_a_stall_of_the_nodes_own_loop_the_watchdog_waits_for_pending_datagrams():
    async def scenario():
        liveness, ended = _watchdog()
        session = FakeSession("peer")
        liveness.watch(session)
        loop = asyncio.get_running_loop()
        tick = liveness._timer.when()

        def datagram_read() -> None:  # the DTLS task counts it on the next iteration
            def count() -> None:
                session.dtls._RTCDtlsTransport__rx_packets += 1
            loop.call_soon(count)

        loop.call_at(tick - 0.01, datagram_read)  # read in the tick's own iteration
        time.sleep(0.5)  # the loop stalls longer than the timeout
        await asyncio.sleep(0.2)
        assert ended == [], "ended for the node's own stall"
        await asyncio.sleep(0.5)
        assert ended == ["peer"]

    run(scenario())


def test_consent_expiry_restarts_the_checks_while_the_peer_is_heard():
    async def scenario():
        liveness, ended = _watchdog(timeout=5)
        session = FakeSession("peer")
        connection = session.dtls.transport._connection
        connection.query_consent = lambda: asyncio.sleep(60)
        loop = asyncio.get_running_loop()

        async def consent_expires() -> None:  # as aioice's query_consent does
            connection._query_consent_task = None
            await connection.close()

        connection._query_consent_task = loop.create_task(asyncio.sleep(0))
        liveness.watch(session)
        liveness._peers["peer"].consent_task = task = loop.create_task(consent_expires())
        await task
        assert not connection.closed and connection._query_consent_task is not None
        connection._query_consent_task.cancel()
        # a peer unheard for the timeout, or a close from elsewhere, closes
        await connection.close()
        assert connection.closed

    run(scenario())
