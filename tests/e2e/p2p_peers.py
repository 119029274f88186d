"""The P2P media test's parts: a coturn relay on 127.0.0.1 that checks the control
plane's TURN credentials, and an aiortc peer that joins and signals over the room's
real WebSocket and decodes what it receives."""
from __future__ import annotations

import asyncio
import json
import shutil
import time

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import VideoFrame
from websockets.asyncio.client import connect

from devstack.process import ServerProcess, free_port
from media_node.ice.loopback import rtc_configuration

TIMEOUT = 30  # a safety net against a hang, never a measurement


def coturn(logs, secret: str) -> ServerProcess | None:
    """coturn with the TURN REST API's shared secret, listening and relaying on
    127.0.0.1 only (and allowing loopback peers, which it refuses by default); ``None``
    when coturn is not installed."""
    if shutil.which("turnserver") is None:
        return None
    port, low = free_port(), 49152 + free_port() % 8000
    return ServerProcess([
        "turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
        f"--listening-port={port}", f"--min-port={low}", f"--max-port={low + 200}",
        "--use-auth-secret", f"--static-auth-secret={secret}", "--realm=dropon.test",
        "--allow-loopback-peers", "--no-multicast-peers", "--no-cli", "--no-tls", "--no-dtls",
        "--fingerprint", "--relay-threads=1", f"--db={logs}/turndb", "--log-file=stdout",
        "--simple-log", "--no-software-attribute"], port, log_path=logs / "coturn.log")


class SmallVideoTrack(VideoStreamTrack):
    """160x120 frames of a changing shade: cheap to encode on a shared machine."""

    def __init__(self):
        super().__init__()
        self.count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.count += 1
        frame = VideoFrame(160, 120, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([self.count % 256]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


class AiortcPeer:
    """One participant: its socket, its join answer, one peer connection per remote
    participant, and the frames it decoded from each kind."""

    def __init__(self, ws, join: dict, send: bool):
        self.ws, self.join, self.send_media = ws, join, send
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.decoded = {"audio": 0, "video": 0}
        self.sizes: set[tuple[int, int]] = set()
        self.events: list[dict] = []
        self.answers: dict[str, asyncio.Future] = {}
        self.tasks: list[asyncio.Task] = []
        self.sent = 0

    @classmethod
    async def join_room(cls, ws_url: str, room: str, token: str, send: bool = True):
        ws = await connect(f"{ws_url}?roomId={room}&token={token}", open_timeout=TIMEOUT)
        await ws.send(json.dumps({"action": "join", "requestId": "join"}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            if message.get("requestId") == "join":
                assert message["type"] == "REPLY", message
                peer = cls(ws, message["data"], send)
                peer.tasks.append(asyncio.ensure_future(peer.read()))
                return peer

    @property
    def pid(self) -> str:
        return self.join["participantId"]

    async def command(self, body: dict) -> dict:
        """Send a command; its ``REPLY`` or ``ERROR``."""
        self.sent += 1
        request_id = f"r{self.sent}"
        answer = self.answers[request_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({**body, "requestId": request_id}))
        try:
            return await asyncio.wait_for(answer, TIMEOUT)
        finally:
            del self.answers[request_id]

    async def signal(self, to: str, data: dict) -> dict:
        return await self.command({"action": "signal", "to": to, "data": data})

    def peer(self, pid: str, receive_only: bool = False) -> RTCPeerConnection:
        if pid in self.pcs and self.pcs[pid].signalingState != "closed":
            return self.pcs[pid]  # one the remote end closed is made again
        pc = self.pcs[pid] = RTCPeerConnection(rtc_configuration())
        pc.on("track", lambda track: self.tasks.append(asyncio.ensure_future(self.drain(track))))
        if receive_only:
            pc.addTransceiver("audio", direction="recvonly")
            pc.addTransceiver("video", direction="recvonly")
        elif self.send_media:
            pc.addTrack(AudioStreamTrack())
            pc.addTrack(SmallVideoTrack())
        return pc

    async def offer(self, pid: str, receive_only: bool = False) -> dict:
        """Offer to ``pid`` (aiortc gathers before it describes: no trickle)."""
        pc = self.peer(pid, receive_only)
        await pc.setLocalDescription(await pc.createOffer())
        return await self.signal(pid, {"type": "offer", "sdp": pc.localDescription.sdp})

    async def read(self) -> None:
        async for text in self.ws:
            message = json.loads(text)
            kind = message["type"]
            if kind in ("REPLY", "ERROR") and message.get("requestId") in self.answers:
                self.answers[message["requestId"]].set_result(message)
            elif kind == "SIGNAL":
                await self.on_signal(message["from"], message["data"])
            else:
                self.events.append(message)
                if kind in ("PARTICIPANT_LEFT", "KICKED"):
                    await self.hang_up(message["data"]["participantId"])

    async def on_signal(self, sender: str, data: dict) -> None:
        if data["type"] == "offer":
            pc = self.peer(sender)
            await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            self.tasks.append(asyncio.ensure_future(self.signal(
                sender, {"type": "answer", "sdp": pc.localDescription.sdp})))
        elif data["type"] == "answer":
            await self.pcs[sender].setRemoteDescription(
                RTCSessionDescription(data["sdp"], "answer"))
        elif data["type"] == "bye":
            await self.hang_up(sender)

    async def drain(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:  # noqa: BLE001 - the track ended (MediaStreamError)
                return
            self.decoded[track.kind] += 1
            if track.kind == "video":
                self.sizes.add((frame.width, frame.height))

    async def hang_up(self, pid: str) -> None:
        pc = self.pcs.pop(pid, None)
        if pc is not None:
            await pc.close()

    async def close(self) -> None:
        for pid in list(self.pcs):
            await self.hang_up(pid)
        await self.ws.close()
        for task in self.tasks:
            task.cancel()


async def until(predicate, what: str, timeout: float = TIMEOUT) -> None:
    """Wait (polling the loop) until ``predicate()`` holds; a safety-net timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


