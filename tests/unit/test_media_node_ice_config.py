"""ICE settings of the media node: validation at start, port allocation, announcing."""
from __future__ import annotations

import asyncio
import errno

import pytest

from media_node.config import NodeConfig
from media_node.ice.binding import IceBinding, NoMediaPorts, PortRange

ENV = {"DROPON_NODE_SECRET": "s" * 32}


def config(**env) -> NodeConfig:
    return NodeConfig.from_env({**ENV, **env})


def test_ice_settings_are_read_from_the_environment():
    c = config(DROPON_ICE_LOOPBACK_ONLY="0", DROPON_ICE_PUBLIC_IP="203.0.113.7",
               DROPON_ICE_PORT_MIN="40000", DROPON_ICE_PORT_MAX="40999")
    assert (c.ice_public_ip, c.ice_port_min, c.ice_port_max) == ("203.0.113.7", 40000, 40999)
    assert (config().ice_public_ip, config().ice_port_min, config().ice_port_max) == ("", 0, 0)
    assert "203.0.113.7" in repr(c) and "s" * 32 not in repr(c)


@pytest.mark.parametrize("env, message", [
    ({"DROPON_ICE_LOOPBACK_ONLY": "0", "DROPON_ICE_PUBLIC_IP": "ec2-host"}, "IPv4 address"),
    ({"DROPON_ICE_LOOPBACK_ONLY": "0", "DROPON_ICE_PUBLIC_IP": "2001:db8::1"}, "unicast IPv4"),
    ({"DROPON_ICE_LOOPBACK_ONLY": "0", "DROPON_ICE_PUBLIC_IP": "0.0.0.0"}, "unicast IPv4"),
    ({"DROPON_ICE_LOOPBACK_ONLY": "0", "DROPON_ICE_PUBLIC_IP": "127.0.0.1"}, "loopback mode only"),
    ({"DROPON_ICE_PUBLIC_IP": "203.0.113.7"}, "DROPON_ICE_LOOPBACK_ONLY=0"),
    ({"DROPON_ICE_PORT_MIN": "40000"}, "both"),
    ({"DROPON_ICE_PORT_MIN": "41000", "DROPON_ICE_PORT_MAX": "40000"}, "above"),
    ({"DROPON_ICE_PORT_MIN": "80", "DROPON_ICE_PORT_MAX": "90"}, "1024-65535"),
    ({"DROPON_ICE_PORT_MIN": "60000", "DROPON_ICE_PORT_MAX": "70000"}, "1024-65535"),
    ({"DROPON_ICE_PORT_MIN": "x", "DROPON_ICE_PORT_MAX": "40000"}, "DROPON_ICE_PORT_MIN must be"),
])
def test_bad_ice_settings_stop_the_node_with_a_message_naming_the_variable(env, message):
    with pytest.raises(ValueError, match=message):
        config(**env)


def test_loopback_mode_accepts_a_127_address_for_tests():
    assert config(DROPON_ICE_PUBLIC_IP="127.0.0.1").ice_public_ip == "127.0.0.1"


class FakeLoop:
    """Refuses the ports in ``busy`` with EADDRINUSE; records what was bound."""

    def __init__(self, busy=(), other_error=None):
        self.busy, self.other_error, self.bound = set(busy), other_error, []

    async def create_datagram_endpoint(self, factory, local_addr):
        if self.other_error:
            raise OSError(self.other_error, "refused")
        if local_addr[1] in self.busy:
            raise OSError(errno.EADDRINUSE, "in use")
        self.bound.append(local_addr)
        self.busy.add(local_addr[1])
        return "transport", "protocol"


def test_port_range_skips_ports_in_use_round_robin_and_refuses_when_exhausted():
    ports, loop = PortRange(5000, 5003), FakeLoop(busy={5001})

    async def bind_all():
        for _ in range(3):
            await ports.bind(loop, None, "10.0.0.5")
        with pytest.raises(NoMediaPorts) as exhausted:
            await ports.bind(loop, None, "10.0.0.5")
        return exhausted.value

    error = asyncio.run(bind_all())
    assert loop.bound == [("10.0.0.5", 5000), ("10.0.0.5", 5002), ("10.0.0.5", 5003)]
    assert (error.status, error.code) == (503, "no_media_ports")
    assert "5000-5003" in error.message
    loop.busy.discard(5000)  # a session left
    asyncio.run(ports.bind(loop, None, "10.0.0.5"))
    assert loop.bound[-1] == ("10.0.0.5", 5000)


def test_other_bind_errors_are_not_retried_as_exhaustion():
    with pytest.raises(OSError) as failed:
        asyncio.run(PortRange(5000, 5003).bind(
            FakeLoop(other_error=errno.EADDRNOTAVAIL), None, "10.0.0.9"))
    assert failed.value.errno == errno.EADDRNOTAVAIL


def test_only_ipv4_host_candidates_are_announced_with_the_public_address():
    nat = IceBinding(public_ip="203.0.113.7")
    assert nat.announced("10.0.1.23") == "203.0.113.7"
    assert nat.announced("2001:db8::5") == "2001:db8::5"
    assert IceBinding().announced("10.0.1.23") == "10.0.1.23"
