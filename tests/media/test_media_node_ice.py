"""The node's ICE sockets: a UDP port range for a security group, a NAT-announced address."""
from __future__ import annotations

import random
import re
import socket

import pytest

from media_node.ice.loopback import restrict_to_loopback
from media_node_dev.client import SignalingRefused

from .helpers import listener_client, run, running_node, speaker_client, wait_for

pytestmark = pytest.mark.media
CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (\w+)", re.M)


def port_range(size: int) -> tuple[int, int]:
    # below Linux's ephemeral range (32768-60999), so no client socket lands in it
    low = random.randrange(20000, 30000 - size)
    return low, low + size - 1


def node_sockets(node) -> list[tuple[str, int]]:
    """Every UDP socket the node's sessions hold for ICE."""
    names = []
    for session in node.sessions.values():
        for transport in session.pc._RTCPeerConnection__iceTransports:
            for protocol in transport.iceGatherer._connection._protocols:
                names.append(protocol.transport.get_extra_info("sockname")[:2])
    return names


async def speaker_and_listener(n):
    speaker = await speaker_client(n, "alice", room="r1")
    listener = await listener_client(n, "bob", room="r1")
    flowing = await wait_for(lambda: sum(f.kind == "video" for f in listener.frames) >= 15
                             and sum(f.kind == "audio" for f in listener.frames) >= 25,
                             timeout=10)
    return speaker, listener, flowing


def test_every_candidate_and_socket_of_the_node_is_within_the_port_range():
    low, high = port_range(20)

    async def scenario():
        async with running_node(ice_port_min=low, ice_port_max=high) as n:
            # joined before any speaker: gets the tracks by a node-driven offer
            early = n.client("r1", "carol", "audience")
            early.receive(audio=1, video=1)
            await early.connect()
            speaker, listener, flowing = await speaker_and_listener(n)
            assert flowing, len(listener.frames)
            assert await wait_for(lambda: len(early.frames) >= 20, timeout=10)
            assert early.renegotiations >= 1

            offered = [CANDIDATE.findall(c.pc.remoteDescription.sdp)
                       for c in (speaker, listener, early)]
            assert all(offered), "the node announced candidates"
            for candidates in offered:
                for host, port, kind in candidates:
                    assert (host, kind) == ("127.0.0.1", "host")
                    assert low <= int(port) <= high, (port, low, high)
            sockets = node_sockets(n.node)
            # one socket per session (max-bundle, one address), renegotiation included
            assert len(sockets) == 3, sockets
            assert all(low <= port <= high for _, port in sockets), sockets
            # the clients themselves are not bound by the node's range
            assert all(not low <= int(p) <= high
                       for _, p, _ in CANDIDATE.findall(speaker.pc.localDescription.sdp))
            for client in (speaker, listener, early):
                assert await client.close() == 200

    run(scenario())


def test_an_exhausted_range_refuses_with_503_and_serves_again_once_a_port_frees():
    low, high = port_range(3)
    # another process holds the middle port: the node skips it (EADDRINUSE)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", low + 1))

    async def scenario():
        async with running_node(ice_port_min=low, ice_port_max=high) as n:
            speaker, listener, _ = await speaker_and_listener(n)
            assert sorted(port for _, port in node_sockets(n.node)) == [low, high]

            third = n.client("r1", "carol", "audience")
            third.receive(audio=1, video=1)
            with pytest.raises(SignalingRefused) as refused:
                await third.connect()
            assert refused.value.status == 503
            assert refused.value.code == "no_media_ports"
            await third.close(hang_up=False)
            assert set(n.node.sessions.values()) == {
                n.node.room("r1").sessions["alice"], n.node.room("r1").sessions["bob"]}
            # the others still flow
            before = len(listener.frames)
            assert await wait_for(lambda: len(listener.frames) > before + 10)

            assert await listener.close() == 200
            assert await wait_for(lambda: len(node_sockets(n.node)) == 1)
            again = n.client("r1", "dave", "audience")
            again.receive(audio=1, video=1)
            await again.connect()
            assert await wait_for(lambda: len(again.frames) >= 20, timeout=10)
            for client in (speaker, again):
                assert await client.close() == 200

    try:
        run(scenario())
    finally:
        squatter.close()


def test_candidates_announce_the_public_address_while_sockets_stay_on_the_interface():
    async def scenario():
        async with running_node(ice_public_ip="127.0.0.1") as n:
            # node and clients gather 127.0.0.2 (built after the node, which sets 127.0.0.1)
            restrict_to_loopback(address="127.0.0.2")
            try:
                speaker, listener, flowing = await speaker_and_listener(n)
            finally:
                restrict_to_loopback()
            assert flowing, len(listener.frames)
            for client in (speaker, listener):
                announced = CANDIDATE.findall(client.pc.remoteDescription.sdp)
                assert announced and all(host == "127.0.0.1" for host, _, _ in announced)
                assert "c=IN IP4 127.0.0.1" in client.pc.remoteDescription.sdp
            assert {host for host, _ in node_sockets(n.node)} == {"127.0.0.2"}
            announced_ports = {int(p) for _, p, _ in CANDIDATE.findall(
                listener.pc.remoteDescription.sdp)}
            assert announced_ports <= {port for _, port in node_sockets(n.node)}
            for client in (speaker, listener):
                assert await client.close() == 200

    run(scenario())
