"""A node finds the address it announces by itself: from a stand-in for ECS's task
metadata endpoint and EC2's DescribeNetworkInterfaces (moto), or from a STUN server on
127.0.0.1; and ``python -m media_node`` announces what it found."""
from __future__ import annotations

import asyncio
import json
import os
import sys
import threading

import boto3
import pytest
from aiohttp import web
from aioice import stun

from devstack.process import ROOT, ServerProcess, free_port
from media_node.ice.public_address import discover_public_ip, ec2_lookup, from_ecs

from .helpers import run

pytestmark = pytest.mark.media
PRIVATE_IP = "10.0.1.25"


def task_metadata(private_ip: str, mac: str) -> dict:
    """What ``${ECS_CONTAINER_METADATA_URI_V4}/task`` answers on Fargate (abridged)."""
    return {"Cluster": "arn:aws:ecs:us-east-1:111122223333:cluster/dropon",
            "TaskARN": "arn:aws:ecs:us-east-1:111122223333:task/dropon/0123456789abcdef",
            "AvailabilityZone": "us-east-1a", "LaunchType": "FARGATE",
            "Containers": [{"Name": "media-node", "Networks": [{
                "NetworkMode": "awsvpc", "IPv4Addresses": [private_ip],
                "AttachmentIndex": 0, "MACAddress": mac,
                "IPv4SubnetCIDRBlock": "10.0.1.0/24",
                "PrivateDNSName": "ip-10-0-1-25.ec2.internal",
                "SubnetGatewayIpv4Address": "10.0.1.1/24"}]}]}


class MetadataEndpoint:
    """A stand-in for the ECS agent's metadata server, on 127.0.0.1."""

    def __init__(self, task: dict) -> None:
        self.task, self.asked = task, []

    async def __aenter__(self) -> str:
        async def answer(request):
            self.asked.append(request.path)
            return web.json_response(self.task)
        app = web.Application()
        app.router.add_get("/v4/abc/task", answer)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v4/abc"

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


class StunResponder(asyncio.DatagramProtocol):
    """Answers Binding requests with the address they came from (RFC 8489)."""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        request = stun.parse_message(data)
        response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE,
                                transaction_id=request.transaction_id)
        response.attributes["XOR-MAPPED-ADDRESS"] = addr
        self.transport.sendto(bytes(response), addr)


@pytest.fixture()
def ec2(monkeypatch):
    """moto's EC2 on 127.0.0.1 with the task's interface, a public IP associated:
    ``(public IP, the interface's MAC, another interface's MAC)``."""
    from moto.server import ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    try:
        client = boto3.client("ec2", region_name="us-east-1")
        vpc = client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = client.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        other = client.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.0.1.26")
        eni = client.create_network_interface(SubnetId=subnet, PrivateIpAddress=PRIVATE_IP)
        eni_id = eni["NetworkInterface"]["NetworkInterfaceId"]
        address = client.allocate_address(Domain="vpc")
        client.associate_address(AllocationId=address["AllocationId"], NetworkInterfaceId=eni_id)
        # a second interface in the subnet has no public IP
        yield (address["PublicIp"], eni["NetworkInterface"]["MacAddress"],
               other["NetworkInterface"]["MacAddress"])
    finally:
        server.stop()


def test_ecs_task_metadata_and_its_interface_give_the_public_ip(ec2):
    public_ip, mac, other_mac = ec2

    async def scenario():
        async with MetadataEndpoint(task_metadata(PRIVATE_IP, mac)) as uri:
            found = await discover_public_ip({"ECS_CONTAINER_METADATA_URI_V4": uri},
                                             ec2_lookup(os.environ))
        async with MetadataEndpoint(task_metadata("10.0.1.26", other_mac)) as uri:
            none = await from_ecs(uri, ec2_lookup(os.environ))
        return found, none

    found, none = run(scenario())
    assert found == (public_ip, "ecs")
    assert none is None  # an interface without a public IP gives none


def test_stun_gives_the_address_and_is_the_fallback_when_ecs_gives_none():
    async def scenario():
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(StunResponder,
                                                           local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            async with MetadataEndpoint({"Containers": []}) as uri:
                return await discover_public_ip({
                    "ECS_CONTAINER_METADATA_URI_V4": uri,
                    "DROPON_STUN_SERVER": f"127.0.0.1:{port}"})
        finally:
            transport.close()

    assert run(scenario()) == ("127.0.0.1", "stun")


def test_a_set_address_wins_and_nothing_set_gives_nothing():
    assert run(discover_public_ip({"DROPON_ICE_PUBLIC_IP": "203.0.113.7",
                                   "DROPON_STUN_SERVER": "127.0.0.1:9"})) == (
        "203.0.113.7", "DROPON_ICE_PUBLIC_IP")
    assert run(discover_public_ip({})) == ("", "")


@pytest.fixture()
def stun_server():
    """A STUN responder on 127.0.0.1, in a thread of its own; its port."""
    loop = asyncio.new_event_loop()
    transport, _ = loop.run_until_complete(loop.create_datagram_endpoint(
        StunResponder, local_addr=("127.0.0.1", 0)))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield transport.get_extra_info("sockname")[1]
    loop.call_soon_threadsafe(transport.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_the_node_process_announces_what_stun_told_it(stun_server, tmp_path):
    port = free_port()
    env = {**os.environ, "DROPON_NODE_SECRET": "s" * 32, "DROPON_CONTROL_URL": "",
           "DROPON_NODE_ID": "node-stun", "DROPON_NODE_PORT": str(port),
           "DROPON_STUN_SERVER": f"127.0.0.1:{stun_server}", "DROPON_ICE_LOOPBACK_ONLY": "1"}
    env.pop("DROPON_ICE_PUBLIC_IP", None)
    with ServerProcess([sys.executable, "-m", "media_node"], port, cwd=ROOT, env=env,
                       log_path=tmp_path / "node.log"):
        pass
    lines = [json.loads(line) for line in (tmp_path / "node.log").read_text().splitlines()]
    announced = [r["message"] for r in lines if r["message"].startswith("announcing")]
    assert announced == ["announcing public address 127.0.0.1 (from stun)"]
    assert any("ice_public_ip='127.0.0.1'" in r["message"] for r in lines)
