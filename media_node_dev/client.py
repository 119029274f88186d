"""An aiortc WHIP/WHEP client for the node (tests, benchmarks, examples).

It publishes tracks and/or receives, answers the node's renegotiation offers on the
``signaling`` data channel, and can tap received tracks to keep encoded frames
instead of decoding them.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import aiohttp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from media_node.ice.loopback import filter_candidates, rtc_configuration
from media_node.internals import aiortc_internals
from media_node.sfu.forwarding import attach_tap
from media_node.sfu.keyframes import is_keyframe


@dataclass
class ReceivedFrame:
    """An encoded frame as the client's jitter buffer reassembled it."""

    at: float
    kind: str
    payload: bytes
    keyframe: bool


class SignalingRefused(Exception):
    """The node answered the offer with an error status.

    :attr code: the error's ``code`` from the body, ``{"error": {"code", "message"}}``
        (``None`` when the body is not that shape).
    """

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body
        try:
            self.code = json.loads(body)["error"]["code"]
        except (ValueError, TypeError, KeyError):
            self.code = None


@dataclass
class WhipClient:
    """One participant's connection to a node.

    :param url: the room's WHIP endpoint, ``{node}/rooms/{roomId}/whip``.
    :param token: the media token.
    :param loopback_only: ignore non-loopback candidates in the node's SDP.
    """

    url: str
    token: str
    loopback_only: bool = True
    pc: RTCPeerConnection = field(default_factory=lambda: RTCPeerConnection(rtc_configuration()))
    frames: list[ReceivedFrame] = field(default_factory=list)
    notices: list[dict] = field(default_factory=list)
    location: str | None = None
    tracks: list[MediaStreamTrack] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.channel = None  # created in connect(), after the transceivers (see ice.py)
        self.pc.on("track", self._on_track)
        self._tasks: set[asyncio.Task] = set()
        self._to_publish: list[MediaStreamTrack] = []
        self.renegotiations = 0

    def _sdp(self, sdp: str) -> str:
        return filter_candidates(sdp) if self.loopback_only else sdp

    def publish(self, track: MediaStreamTrack) -> None:
        """Send ``track``; relays keyframe requests to ``track.request_keyframe``."""
        sender = self.pc.addTrack(track)
        if hasattr(track, "request_keyframe"):
            aiortc_internals.relay_keyframe_requests(sender, track.request_keyframe)

    def publish_on_promotion(self, *tracks: MediaStreamTrack) -> None:
        """Tracks to attach when the node offers receiving transceivers after a promotion."""
        self._to_publish.extend(tracks)

    def receive(self, audio: int = 0, video: int = 0) -> None:
        """Add receive-only transceivers (WHEP style)."""
        for _ in range(audio):
            self.pc.addTransceiver("audio", direction="recvonly")
        for _ in range(video):
            self.pc.addTransceiver("video", direction="recvonly")

    async def connect(self) -> None:
        """POST the offer and apply the answer.

        :raises SignalingRefused: on any non-201 status.
        """
        # with max-bundle, aiortc only connects when a transceiver, not the data
        # channel, owns the shared transport: create the channel last
        self.channel = self.pc.createDataChannel("signaling")
        self.channel.on("message", self._on_message)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/sdp"}
        async with aiohttp.ClientSession() as http:
            async with http.post(self.url, data=self.pc.localDescription.sdp,
                                 headers=headers) as response:
                body = await response.text()
                if response.status != 201:
                    raise SignalingRefused(response.status, body)
                self.location = response.headers["Location"]
        await self.pc.setRemoteDescription(RTCSessionDescription(self._sdp(body), "answer"))

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.tracks.append(track)
        receiver = next(t.receiver for t in self.pc.getTransceivers()
                        if t.receiver.track is track)
        kind = track.kind
        attach_tap(receiver, lambda codec, frame: self.frames.append(ReceivedFrame(
            time.monotonic(), kind, frame.data, is_keyframe(codec.name, frame.data))))

    def _on_message(self, message: str) -> None:
        data = json.loads(message)
        if data.get("type") == "offer":
            task = asyncio.ensure_future(self._answer(data["sdp"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self.notices.append(data)

    async def _answer(self, sdp: str) -> None:
        if self.pc.signalingState == "closed":
            return  # an offer that crossed our hang-up (a speaker left as we did)
        await self.pc.setRemoteDescription(RTCSessionDescription(self._sdp(sdp), "offer"))
        while self._to_publish:
            self.publish(self._to_publish.pop(0))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.channel.send(json.dumps({"type": "answer", "sdp": self.pc.localDescription.sdp}))
        self.renegotiations += 1

    async def close(self, hang_up: bool = True) -> int | None:
        """DELETE the session (when ``hang_up``) and close the peer; returns the status."""
        status = None
        if hang_up and self.location:
            async with aiohttp.ClientSession() as http:
                async with http.delete(self.location, headers={
                        "Authorization": f"Bearer {self.token}"}) as response:
                    status = response.status
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
        return status
