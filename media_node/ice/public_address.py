"""Where a node finds the public IPv4 address it announces, so that
``DROPON_ICE_PUBLIC_IP`` need not be set by hand.

In order: ``DROPON_ICE_PUBLIC_IP`` itself; on ECS, the task's network interface (the
task metadata endpoint, ``ECS_CONTAINER_METADATA_URI_V4``, gives its private address
and MAC; EC2's ``DescribeNetworkInterfaces`` gives the public IP associated with it, as
Fargate's metadata carries none); a STUN server's answer (``DROPON_STUN_SERVER``,
the address the node's packets come from). Nothing found: the node announces its
interface addresses, as before.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Callable, Mapping

import aiohttp
from aioice import stun

logger = logging.getLogger(__name__)
METADATA_TIMEOUT = 3.0
STUN_ATTEMPTS, STUN_WAIT = 3, 1.0

# (private IPv4, MAC or "", region) -> the public IPv4 associated with that interface
InterfaceLookup = Callable[[str, str, str], "str | None"]


async def discover_public_ip(env: Mapping[str, str],
                             lookup: InterfaceLookup | None = None) -> tuple[str, str]:
    """``(address, source)``; ``("", "")`` when no source gave one.

    :param lookup: how an ECS task's interface becomes its public IP (default: boto3's
        EC2 ``DescribeNetworkInterfaces``; tests pass their own endpoint through the
        environment instead).
    """
    if env.get("DROPON_ICE_PUBLIC_IP", "").strip():
        return env["DROPON_ICE_PUBLIC_IP"].strip(), "DROPON_ICE_PUBLIC_IP"
    metadata = env.get("ECS_CONTAINER_METADATA_URI_V4", "")
    if metadata:
        try:
            found = await from_ecs(metadata, lookup or ec2_lookup(env))
        except Exception as exc:  # noqa: BLE001 - fall through to STUN
            logger.warning("public address from ECS task metadata: %s", exc)
            found = None
        if found:
            return found, "ecs"
    server = env.get("DROPON_STUN_SERVER", "").strip()
    if server:
        host, _, port = server.rpartition(":")
        try:
            return await from_stun(host or server, int(port or 3478)), "stun"
        except (OSError, ValueError, asyncio.TimeoutError) as exc:
            logger.warning("public address from STUN server %s: %s", server, exc)
    return "", ""


async def from_ecs(metadata_uri: str, lookup: InterfaceLookup) -> str | None:
    """The public IPv4 of the task's awsvpc interface, or None if it has none."""
    task = await task_metadata(metadata_uri)
    private, mac = task_interface(task)
    if not private:
        return None
    zone = str(task.get("AvailabilityZone", ""))
    region = zone[:-1] if zone[-1:].isalpha() else ""
    return await asyncio.get_running_loop().run_in_executor(None, lookup, private, mac, region)


async def task_metadata(metadata_uri: str) -> dict:
    """What ``${ECS_CONTAINER_METADATA_URI_V4}/task`` answers (the task's ARN, zone,
    containers and their networks).

    :raises aiohttp.ClientError: the endpoint refused or did not answer.
    """
    timeout = aiohttp.ClientTimeout(total=METADATA_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.get(metadata_uri.rstrip("/") + "/task") as r:
            r.raise_for_status()
            return await r.json(content_type=None)


def task_interface(task: dict) -> tuple[str, str]:
    """``(private IPv4, MAC)`` of the first awsvpc network of the task's containers."""
    for container in task.get("Containers", []):
        for network in container.get("Networks", []):
            if network.get("NetworkMode") == "awsvpc" and network.get("IPv4Addresses"):
                return str(network["IPv4Addresses"][0]), str(network.get("MACAddress", ""))
    return "", ""


def ec2_lookup(env: Mapping[str, str]) -> InterfaceLookup:
    """``DescribeNetworkInterfaces`` by private address (the task role needs
    ``ec2:DescribeNetworkInterfaces``, which takes no resource but ``*``)."""
    def lookup(private: str, mac: str, region: str) -> str | None:
        import boto3  # only on ECS
        ec2 = boto3.client("ec2", region_name=region or env.get("AWS_REGION") or None)
        found = ec2.describe_network_interfaces(Filters=[
            {"Name": "addresses.private-ip-address", "Values": [private]}])
        for interface in found.get("NetworkInterfaces", []):
            if mac and interface.get("MacAddress", mac).lower() != mac.lower():
                continue
            public = (interface.get("Association") or {}).get("PublicIp")
            if public:
                return public
        return None
    return lookup


class _StunClient(asyncio.DatagramProtocol):
    def __init__(self, transaction_id: bytes) -> None:
        self.transaction_id = transaction_id
        self.answer: asyncio.Future = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            message = stun.parse_message(data)
        except ValueError:
            return
        if (message.transaction_id == self.transaction_id and not self.answer.done()
                and message.message_class == stun.Class.RESPONSE):
            self.answer.set_result(message)


async def from_stun(host: str, port: int) -> str:
    """The address a STUN server sees this node's UDP packets come from (RFC 8489
    Binding), retried ``STUN_ATTEMPTS`` times.

    :raises asyncio.TimeoutError: no answer.
    :raises ValueError: an answer without an IPv4 mapped address.
    """
    loop = asyncio.get_running_loop()
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    transport, client = await loop.create_datagram_endpoint(
        lambda: _StunClient(request.transaction_id), remote_addr=(host, port))
    try:
        for attempt in range(STUN_ATTEMPTS):
            transport.sendto(bytes(request))
            try:
                answer = await asyncio.wait_for(asyncio.shield(client.answer), STUN_WAIT)
                break
            except asyncio.TimeoutError:
                if attempt == STUN_ATTEMPTS - 1:
                    raise
    finally:
        transport.close()
    mapped = answer.attributes.get("XOR-MAPPED-ADDRESS") or answer.attributes.get(
        "MAPPED-ADDRESS")
    if not mapped or ipaddress.ip_address(mapped[0]).version != 4:
        raise ValueError(f"no IPv4 mapped address in the STUN answer: {mapped!r}")
    return mapped[0]
