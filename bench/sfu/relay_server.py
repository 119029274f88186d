"""Baseline server: aiortc's MediaRelay, which decodes and re-encodes per subscriber.

Same signaling as the media node (WHIP-style POST of an offer with a media token):
`speaker` tokens publish one audio and one video track; `audience` tokens offer
recvonly audio+video transceivers, one pair per publisher, filled in publish order.
Run with `python -m bench.sfu.relay_server --port P`; env DROPON_NODE_SECRET and
DROPON_NODE_ID as for the node.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import uuid

import aiortc.codecs.vpx as vpx
import jwt
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from .ice import restrict_host_addresses, rtc_configuration


def single_threaded_vp8() -> None:
    """libvpx with FFmpeg's default threads is 25 times slower here: pin both to 1."""
    vpx.number_of_threads = lambda pixels, cpus: 1
    original_init = vpx.Vp8Decoder.__init__

    def init(self):
        original_init(self)
        self.codec.thread_count = 1

    vpx.Vp8Decoder.__init__ = init


class RelayRoom:
    """Publishers' tracks and every peer connection, closed at shutdown."""

    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.published: list[dict[str, object]] = []  # per publisher: kind -> track
        self.peers: dict[str, RTCPeerConnection] = {}
        self.drains: set[asyncio.Task] = set()

    def _on_track(self, track, tracks: dict) -> None:
        tracks[track.kind] = track
        # read every published track from the start, so no queue backs up
        proxy = self.relay.subscribe(track, buffered=False)
        task = asyncio.ensure_future(_drain(proxy))
        self.drains.add(task)

    async def connect(self, offer_sdp: str, role: str) -> tuple[str, str]:
        pc = RTCPeerConnection(rtc_configuration())
        session_id = uuid.uuid4().hex
        self.peers[session_id] = pc

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState == "failed":
                await self.leave(session_id)

        if role == "speaker":
            tracks: dict = {}
            self.published.append(tracks)
            pc.on("track", lambda track: self._on_track(track, tracks))
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        else:
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            wanted = {"audio": iter(self.published), "video": iter(self.published)}
            for transceiver in pc.getTransceivers():
                source = next(wanted[transceiver.kind], {}).get(transceiver.kind)
                if source is not None:
                    transceiver.sender.replaceTrack(self.relay.subscribe(source, buffered=False))
                    transceiver.direction = "sendonly"
        await pc.setLocalDescription(await pc.createAnswer())
        return session_id, pc.localDescription.sdp

    async def leave(self, session_id: str) -> bool:
        pc = self.peers.pop(session_id, None)
        if pc:
            await pc.close()
        return pc is not None

    async def close(self) -> None:
        for task in self.drains:
            task.cancel()
        await asyncio.gather(*(pc.close() for pc in self.peers.values()))


async def _drain(track) -> None:
    while True:
        await track.recv()


def make_app(secret: str, node_id: str) -> web.Application:
    room = RelayRoom()

    async def whip(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(auth.removeprefix("Bearer "), secret, algorithms=["HS256"],
                                audience=f"media:{node_id}")
        except jwt.PyJWTError:
            return web.json_response(
                {"error": {"code": "invalid_token", "message": "bad media token"}}, status=401)
        if claims.get("room") != request.match_info["room"]:
            return web.json_response(
                {"error": {"code": "wrong_room", "message": "token is for another room"}},
                status=403)
        session_id, answer = await room.connect(await request.text(), claims.get("role"))
        return web.Response(status=201, text=answer, content_type="application/sdp",
                            headers={"Location": f"/sessions/{session_id}"})

    async def leave(request: web.Request) -> web.Response:
        found = await room.leave(request.match_info["session"])
        return web.Response(status=200 if found else 404)

    async def on_shutdown(app):
        await room.close()

    app = web.Application()
    app.router.add_post("/rooms/{room}/whip", whip)
    app.router.add_delete("/sessions/{session}", leave)
    app.on_shutdown.append(on_shutdown)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    restrict_host_addresses(["127.0.0.1"])
    single_threaded_vp8()
    app = make_app(os.environ["DROPON_NODE_SECRET"], os.environ.get("DROPON_NODE_ID", "bench-node"))
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
