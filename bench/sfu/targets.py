"""Start a target server pinned to the server CPU, and say how clients reach it."""
from __future__ import annotations

import contextlib
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack.process import ROOT, ServerProcess, free_port

from .janus import ROOM as JANUS_ROOM, HTTP_PORT as JANUS_PORT, JanusProcess, NetnsPair

NODE_ID = "bench-node"
ROOM = "bench-room"


@dataclass
class RunningTarget:
    """A started server: its pid, and the load clients' command-line prefix and args."""

    name: str
    pid: int
    client_prefix: list[str] = field(default_factory=list)
    client_args: list[str] = field(default_factory=list)
    client_env: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def start_target(name: str, workdir: Path, server_cpu: int):
    """Yield a RunningTarget; stop the server (and remove namespaces) on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    python = [sys.executable]
    pin = ["taskset", "-c", str(server_cpu)]
    whip_env = {"DROPON_NODE_SECRET": secret}
    whip_args = ["--room", ROOM, "--node-id", NODE_ID, "--ice-address", "127.0.0.1"]
    if name == "janus":
        net = NetnsPair().up()
        try:
            with JanusProcess(net, workdir / "janus", server_cpu) as server:
                yield RunningTarget(name, server.pid, net.exec_prefix(net.client_ns), [
                    "--target", "janus", "--url", f"http://{net.server_ip}:{JANUS_PORT}/janus", "--room", str(JANUS_ROOM),
                    "--ice-address", net.client_ip])
        finally:
            net.down()
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if name in ("node", "node-py"):
        argv = [*pin, *python, "-m", "media_node"]
        # node-py: the same node with the packet loop in Python instead of C
        env = {**whip_env, "DROPON_CONTROL_URL": "", "DROPON_NODE_ID": NODE_ID,
               "DROPON_NODE_PORT": str(port), "DROPON_NODE_PUBLIC_URL": url,
               "DROPON_ICE_LOOPBACK_ONLY": "1",
               "DROPON_FANOUT": "python" if name == "node-py" else "c"}
        # a receive pair per current speaker in the offer, as WHEP (and Janus's offer to
        # its subscribers) carries every stream; later speakers come by renegotiation
        client_flags = ["--target", "node", "--data-channel", "--recv-transceivers", "2"]
    elif name == "relay":
        argv = [*pin, *python, "-m", "bench.sfu.relay_server", "--port", str(port)]
        env = {**whip_env, "DROPON_NODE_ID": NODE_ID}
        client_flags = ["--target", "relay", "--recv-transceivers", "2"]
    else:
        raise ValueError(f"unknown target {name!r}")
    server = ServerProcess(argv, port, cwd=ROOT, env=env, log_path=workdir / f"{name}.log")
    with server:
        yield RunningTarget(name, server.pid, [], ["--url", url, *whip_args, *client_flags], whip_env)
