"""A node behind a 1:1 NAT, as on EC2: reachable only through DROPON_ICE_PUBLIC_IP.

Three network namespaces this test creates (and deletes): the node's (10.77.0.2, not
routable from the client), a router doing 1:1 NAT between 203.0.113.7 and 10.77.0.2
(nftables), and the client's (198.51.100.2) with a stateful firewall that drops UDP
it did not ask for, as a client's own NAT does. Media can then flow only if the client
reaches the node's announced candidate first; no traffic leaves these namespaces.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import NODE_ID, SECRET

pytestmark = pytest.mark.media
ROOT = Path(__file__).resolve().parents[2]
PUBLIC, PRIVATE, PORTS = "203.0.113.7", "10.77.0.2", (20400, 20409)

ROUTER_NAT = f"""table ip nat1to1 {{
  chain pre {{ type nat hook prerouting priority dstnat; ip daddr {PUBLIC} dnat to {PRIVATE}; }}
  chain post {{ type nat hook postrouting priority srcnat; ip saddr {PRIVATE} snat to {PUBLIC}; }}
}}"""
CLIENT_FIREWALL = """table inet clientfw {
  chain input { type filter hook input priority 0; policy accept;
    iif lo accept; ct state established,related accept; meta l4proto udp drop; }
}"""


def sh(*args: str, stdin: str | None = None) -> None:
    subprocess.run(args, input=stdin, text=True, check=True, capture_output=True, timeout=10)


@pytest.fixture
def nat_network():
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        pytest.skip("needs root, ip and nft (scripts/bootstrap-system.sh) for namespaces")
    tag = str(os.getpid() % 100000)
    node, router, client = f"dn{tag}", f"dr{tag}", f"dc{tag}"
    try:
        for ns in (node, router, client):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        for end, ns, address, gateway in ((f"n{tag}", node, PRIVATE, "10.77.0.1"),
                                          (f"c{tag}", client, "198.51.100.2", "198.51.100.1")):
            sh("ip", "link", "add", end, "type", "veth", "peer", "name", f"r{end}")
            sh("ip", "link", "set", end, "netns", ns)
            sh("ip", "link", "set", f"r{end}", "netns", router)
            sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", end)
            sh("ip", "-n", ns, "link", "set", end, "up")
            sh("ip", "-n", router, "addr", "add", f"{gateway}/24", "dev", f"r{end}")
            sh("ip", "-n", router, "link", "set", f"r{end}", "up")
        sh("ip", "-n", node, "route", "add", "default", "via", "10.77.0.1")
        # the client knows a route to the public address only, never to 10.77.0.0/24
        sh("ip", "-n", client, "route", "add", "203.0.113.0/24", "via", "198.51.100.1")
        sh("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "netns", "exec", router, "nft", "-f", "-", stdin=ROUTER_NAT)
        sh("ip", "netns", "exec", client, "nft", "-f", "-", stdin=CLIENT_FIREWALL)
    except (subprocess.CalledProcessError, OSError) as exc:
        for ns in (node, router, client):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        pytest.skip(f"cannot build the NAT namespaces here: {getattr(exc, 'stderr', exc)}")
    try:
        yield node, client
    finally:
        for ns in (node, router, client):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_clients_reach_a_nated_node_through_its_announced_public_address(nat_network, tmp_path):
    node_ns, client_ns = nat_network
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DROPON_NODE_SECRET": SECRET,
           "DROPON_NODE_ID": NODE_ID, "DROPON_CONTROL_URL": "", "DROPON_NODE_HOST": "0.0.0.0",
           "DROPON_NODE_PORT": "8100", "DROPON_NODE_PUBLIC_URL": f"http://{PUBLIC}:8100",
           "DROPON_ICE_LOOPBACK_ONLY": "0", "DROPON_ICE_PUBLIC_IP": PUBLIC,
           "DROPON_ICE_PORT_MIN": str(PORTS[0]), "DROPON_ICE_PORT_MAX": str(PORTS[1])}
    log = open(tmp_path / "node.log", "w")
    node = subprocess.Popen(["ip", "netns", "exec", node_ns, sys.executable, "-m", "media_node"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        peer = subprocess.run(
            ["ip", "netns", "exec", client_ns, sys.executable, str(ROOT / "tests/media/nat_peer.py"),
             PUBLIC, "8100", SECRET, NODE_ID],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    finally:
        node.terminate()
        node.wait(timeout=10)
        log.close()
    assert peer.returncode == 0, peer.stderr[-2000:] + (tmp_path / "node.log").read_text()[-2000:]
    seen = json.loads(peer.stdout.strip().splitlines()[-1])
    # the node announced its public address (never 10.77.0.2), on a port of its range
    assert seen["announced"] and all(host == PUBLIC and kind == "host"
                                     for host, _, kind in seen["announced"])
    assert all(PORTS[0] <= int(port) <= PORTS[1] for _, port, _ in seen["announced"])
    # the pair in use is that very candidate, not one learnt from the node's checks
    assert seen["nominated_remote"][0] == PUBLIC
    assert seen["nominated_remote_type"] == "host"
    assert seen["video_frames"] >= 20 and seen["audio_frames"] >= 20, seen
