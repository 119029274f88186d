"""A node on ECS, as ``python -m media_node`` runs there: it names itself after its task
and announces its public address to the control plane, and it keeps ECS task scale-in
protection while a real aiortc participant is connected. ECS is stood in for on
127.0.0.1: the task metadata endpoint and the agent's protection endpoint (answering
as the ECS agent does), EC2 by moto, the control plane by its heartbeat route."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading

import jwt
import pytest
from aiohttp import web

from devstack.process import ROOT, ServerProcess, free_port
from media_node.ecs.identity import IdentityError, public_url, task_id
from media_node.ecs.protection import EcsAgentTaskProtection
from media_node_dev.client import WhipClient
from media_node_dev.sources import EncodedAudioSource
from media_node_dev.tokens import mint_media_token

from .helpers import run, wait_for
from .test_public_address import PRIVATE_IP, ec2, task_metadata  # noqa: F401 - the fixture

pytestmark = pytest.mark.media
SECRET = "ecs-node-secret-0123456789abcdefghij"
TASK_ID = "0123456789abcdef0123456789abcdef"
TASK_ARN = f"arn:aws:ecs:us-east-1:111122223333:task/dropon/{TASK_ID}"


class EcsStandIn:
    """The task metadata endpoint, the ECS agent's protection endpoint and the control
    plane's heartbeat route, on one 127.0.0.1 port in a thread of its own."""

    def __init__(self, task: dict) -> None:
        self.task = task
        self.protection: list[dict] = []  # PUT bodies, in order
        self.heartbeats: list[tuple[str, str, dict]] = []  # (node id, token issuer, body)
        self.refuse = 0  # how many PUTs to refuse first

    async def _task(self, request):
        return web.json_response(self.task)

    async def _protect(self, request):
        body = await request.json()
        self.protection.append(body)
        if self.refuse:
            self.refuse -= 1  # the agent's answer when the task role may not protect it
            return web.json_response({"error": {
                "Arn": TASK_ARN, "Code": "AccessDeniedException",
                "Message": "not authorized to perform: ecs:UpdateTaskProtection"}}, status=400)
        # the agent's answer (ECS agent, task-protection/v1/state)
        return web.json_response({"protection": {
            "ExpirationDate": None, "ProtectionEnabled": body["ProtectionEnabled"],
            "TaskArn": TASK_ARN}})

    async def _heartbeat(self, request):
        token = request.headers["Authorization"].removeprefix("Bearer ")
        issuer = jwt.decode(token, SECRET, algorithms=["HS256"])["iss"]
        self.heartbeats.append((request.match_info["nodeId"], issuer, await request.json()))
        return web.json_response({"nodeId": request.match_info["nodeId"]})

    def __enter__(self) -> "EcsStandIn":
        app = web.Application()
        app.router.add_get("/v4/abc/task", self._task)
        app.router.add_put("/api/abc/task-protection/v1/state", self._protect)
        app.router.add_post("/nodes/{nodeId}/heartbeat", self._heartbeat)
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.port = free_port()
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        base = f"http://127.0.0.1:{self.port}"
        self.metadata, self.agent, self.control = f"{base}/v4/abc", f"{base}/api/abc", base
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def node_env(port: int, **values: str) -> dict[str, str]:
    env = {**os.environ, "DROPON_NODE_SECRET": SECRET, "DROPON_NODE_PORT": str(port),
           "DROPON_CONTROL_URL": "", **values}
    for name in ("DROPON_NODE_ID", "DROPON_NODE_PUBLIC_URL", "DROPON_ICE_PUBLIC_IP",
                 "DROPON_STUN_SERVER", "ECS_AGENT_URI", "ECS_CONTAINER_METADATA_URI_V4"):
        if name not in values:
            env.pop(name, None)
    return env


def log_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_a_task_is_a_node_of_its_own_named_after_its_task_at_its_public_address(ec2, tmp_path):
    public_ip, mac, _ = ec2
    port = free_port()
    with EcsStandIn(task_metadata(PRIVATE_IP, mac) | {"TaskARN": TASK_ARN}) as ecs:
        env = node_env(port, ECS_CONTAINER_METADATA_URI_V4=ecs.metadata,
                       DROPON_CONTROL_URL=ecs.control,
                       # moto draws public IPs at random, 127.x among them: loopback mode
                       # accepts only those, and the other mode only the others
                       DROPON_ICE_LOOPBACK_ONLY="1" if public_ip.startswith("127.") else "0",
                       DROPON_HEARTBEAT_INTERVAL="0.5")
        with ServerProcess([sys.executable, "-m", "media_node"], port, cwd=ROOT, env=env,
                           log_path=tmp_path / "node.log"):
            assert run(wait_for(lambda: ecs.heartbeats, timeout=15))
    node_id, issuer, body = ecs.heartbeats[0]
    assert node_id == f"task-{TASK_ID}" and issuer == f"node:task-{TASK_ID}"
    assert body["url"] == f"http://{public_ip}:{port}"  # plain HTTP on the signaling port
    lines = log_lines(tmp_path / "node.log")
    assert f"node task-{TASK_ID} at http://{public_ip}:{port} (from the ECS task)" in [
        r["message"] for r in lines]
    started = [r for r in lines if r["message"].startswith("starting")]
    assert started and all(r["nodeId"] == f"task-{TASK_ID}" for r in started)


def test_what_is_set_wins_and_a_template_names_a_tls_front():
    assert task_id(TASK_ARN) == TASK_ID
    assert task_id("arn:aws:ecs:us-east-1:111122223333:task/" + TASK_ID) == TASK_ID
    with pytest.raises(IdentityError, match="DROPON_NODE_ID"):
        task_id("arn:aws:ecs:us-east-1:111122223333:container-instance/x")
    url = public_url("https://{task_id}.nodes.example.com/", public_ip="", port=8443,
                     node_id="task-1", task="1")
    assert url == "https://1.nodes.example.com"
    with pytest.raises(IdentityError, match="no public address"):
        public_url("http://{public_ip}:{port}", public_ip="", port=1, node_id="n", task="1")
    with pytest.raises(IdentityError, match="placeholders"):
        public_url("http://{host}", public_ip="203.0.113.9", port=1, node_id="n", task="1")


def test_a_node_keeps_scale_in_protection_while_a_participant_is_connected(tmp_path):
    port = free_port()
    with EcsStandIn({}) as ecs:
        env = node_env(port, ECS_AGENT_URI=ecs.agent, DROPON_NODE_ID="node-ecs",
                       DROPON_TASK_PROTECTION_MINUTES="7", DROPON_ICE_LOOPBACK_ONLY="1")
        node = ServerProcess([sys.executable, "-m", "media_node"], port, cwd=ROOT, env=env,
                             log_path=tmp_path / "node.log").start()
        try:
            def participant(name: str) -> WhipClient:
                client = WhipClient(f"http://127.0.0.1:{port}/rooms/r1/whip",
                                    mint_media_token(SECRET, "node-ecs", "r1", name, "speaker"))
                client.publish(EncodedAudioSource())
                return client

            async def scenario():
                first = participant("ann")
                await first.connect()
                assert await wait_for(lambda: len(ecs.protection) == 1, timeout=10)
                await first.close()  # hangs up: the node carries nothing
                assert await wait_for(lambda: len(ecs.protection) == 2, timeout=10)
                second = participant("bob")
                await second.connect()
                assert await wait_for(lambda: len(ecs.protection) == 3, timeout=10)
                assert await wait_for(lambda: second.channel.readyState == "open", timeout=15)
                os.kill(node.pid, signal.SIGTERM)  # ECS stops the task: the drain
                assert await wait_for(
                    lambda: any(n["type"] == "bye" for n in second.notices), timeout=10)
                await second.close(hang_up=False)
                return second.notices

            notices = run(scenario())
            assert node.proc.wait(30) == 0
        finally:
            node.stop()
    on = {"ProtectionEnabled": True, "ExpiresInMinutes": 7}
    off = {"ProtectionEnabled": False}
    assert ecs.protection[:3] == [on, off, on]
    # the drain ended the call, and it was cleared (twice when the drain's end cut short
    # the clearing its last leave started)
    assert ecs.protection[3:] in ([off], [off, off])
    assert {"type": "bye", "reason": "node_draining"} in notices
    messages = [r["message"] for r in log_lines(tmp_path / "node.log")]
    assert messages.count("task scale-in protection set for 7 min") == 2
    assert "drained" in messages


def test_a_refused_protection_is_asked_again_and_a_burst_settles_on_one_request():
    with EcsStandIn({}) as ecs:
        ecs.refuse = 2

        async def scenario():
            protection = EcsAgentTaskProtection(ecs.agent, 3, retry=0.05)
            protection.busy(True)
            assert await wait_for(lambda: protection.protected and len(ecs.protection) == 3)
            assert not await wait_for(lambda: len(ecs.protection) > 3, timeout=0.3)
            for carrying in (False, True, False, True, False):  # joins and leaves at once
                protection.busy(carrying)
            assert await wait_for(lambda: not protection.protected)
            await protection.release()  # nothing to clear any more: no request
            await protection.close()

        run(scenario())
    on, off = {"ProtectionEnabled": True, "ExpiresInMinutes": 3}, {"ProtectionEnabled": False}
    assert ecs.protection == [on, on, on, off]
