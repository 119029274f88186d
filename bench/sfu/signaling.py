"""Client-side signaling for each target: WHIP-style (media node, relay) and Janus.

Every class offers `publish(pc)` and `subscribe(pc, counter)`; both return once the
answer is applied, and `close()` leaves.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid

import aiohttp
import jwt
from aiortc import RTCSessionDescription
from yarl import URL

from .counter import SubscriberCounter


def media_token(secret: str, node_id: str, room: str, role: str, ttl_s: int = 3600) -> str:
    """A media token as the control plane mints it (docs/architecture.md)."""
    participant = f"p-{uuid.uuid4().hex[:12]}"
    claims = {"iss": "dropon-control", "aud": f"media:{node_id}", "sub": participant,
              "room": room, "identity": f"bench-{role}-{participant[2:8]}", "role": role,
              "callId": f"c-{uuid.uuid4().hex[:12]}", "exp": int(time.time()) + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")


class WhipSignaling:
    """POST an SDP offer to `{base}/rooms/{room}/whip`; answer later offers from the node
    on the `signaling` data channel (docs/architecture.md)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, room: str,
                 secret: str, node_id: str, data_channel: bool = True):
        self.http, self.url = http, f"{base_url.rstrip('/')}/rooms/{room}/whip"
        self.room, self.secret, self.node_id = room, secret, node_id
        self.data_channel = data_channel
        self.location: str | None = None
        self.token: str | None = None

    async def publish(self, pc) -> None:
        await self._offer(pc, "speaker", None)

    async def subscribe(self, pc, counter: SubscriberCounter) -> None:
        await self._offer(pc, "audience", counter)

    async def _offer(self, pc, role: str, counter: SubscriberCounter | None) -> None:
        if self.data_channel:
            channel = pc.createDataChannel("signaling")
            channel.on("message", lambda m: asyncio.ensure_future(
                self._on_message(pc, channel, counter, m)))
        await pc.setLocalDescription(await pc.createOffer())
        if counter:
            counter.offer_sent_at = time.monotonic()
            counter.attach(pc)
        self.token = token = media_token(self.secret, self.node_id, self.room, role)
        async with self.http.post(self.url, data=pc.localDescription.sdp, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}) as resp:
            body = await resp.text()
            if resp.status != 201:
                raise RuntimeError(f"WHIP offer got {resp.status}: {body[:300]}")
            self.location = resp.headers.get("Location")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
        if counter:
            counter.attach(pc)

    async def _on_message(self, pc, channel, counter, message) -> None:
        msg = json.loads(message)
        if msg.get("type") != "offer":
            return
        await pc.setRemoteDescription(RTCSessionDescription(sdp=msg["sdp"], type="offer"))
        if counter:
            counter.attach(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        channel.send(json.dumps({"type": "answer", "sdp": pc.localDescription.sdp}))

    async def close(self) -> None:
        if self.location:
            url = URL(self.url).join(URL(self.location))
            try:
                async with self.http.delete(url, headers={
                        "Authorization": f"Bearer {self.token}"}) as resp:
                    await resp.read()
            except aiohttp.ClientError:
                pass


class JanusSession:
    """One Janus session over its HTTP API, with a long-poll task for async events."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str):
        self.http, self.base = http, base_url.rstrip("/")
        self.session_id: int | None = None
        self._waiters: dict[str, asyncio.Future] = {}
        self._poller: asyncio.Task | None = None
        self._tx = itertools.count()

    async def _post(self, path: str, body: dict) -> dict:
        body["transaction"] = body.get("transaction") or f"t{next(self._tx)}"
        async with self.http.post(self.base + path, json=body) as resp:
            data = await resp.json(content_type=None)
        if data.get("janus") == "error":
            raise RuntimeError(f"janus error: {data.get('error')}")
        return data

    async def create(self) -> None:
        self.session_id = (await self._post("", {"janus": "create"}))["data"]["id"]
        self._poller = asyncio.ensure_future(self._poll())

    async def attach(self) -> int:
        data = await self._post(f"/{self.session_id}", {
            "janus": "attach", "plugin": "janus.plugin.videoroom"})
        return data["data"]["id"]

    async def message(self, handle: int, body: dict, jsep: dict | None = None) -> dict:
        """Send a plugin request and wait for its asynchronous event."""
        tx = f"t{next(self._tx)}"
        future = self._waiters[tx] = asyncio.get_running_loop().create_future()
        msg = {"janus": "message", "body": body, "transaction": tx}
        if jsep:
            msg["jsep"] = jsep
        try:
            await self._post(f"/{self.session_id}/{handle}", msg)
            event = await asyncio.wait_for(future, 30)
        finally:
            self._waiters.pop(tx, None)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise RuntimeError(f"videoroom error: {data['error']}")
        return event

    async def _poll(self) -> None:
        while True:
            try:
                async with self.http.get(f"{self.base}/{self.session_id}?maxev=50") as resp:
                    events = await resp.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(0.2)
                continue
            for event in events if isinstance(events, list) else [events]:
                waiter = self._waiters.get(event.get("transaction"))
                if waiter and not waiter.done() and event.get("janus") == "event":
                    waiter.set_result(event)

    async def close(self) -> None:
        if self._poller:
            self._poller.cancel()
        if self.session_id:
            try:
                await self._post(f"/{self.session_id}", {"janus": "destroy"})
            except (aiohttp.ClientError, RuntimeError):
                pass


class JanusSignaling:
    """Janus videoroom: publishers offer; Janus offers to subscribers."""

    def __init__(self, session: JanusSession, room: int, feeds: list[int] | None = None):
        self.session, self.room, self.feeds = session, room, feeds or []
        self.feed_id: int | None = None

    async def publish(self, pc) -> None:
        handle = await self.session.attach()
        joined = await self.session.message(handle, {
            "request": "join", "ptype": "publisher", "room": self.room})
        self.feed_id = joined["plugindata"]["data"]["id"]
        await pc.setLocalDescription(await pc.createOffer())
        event = await self.session.message(
            handle, {"request": "publish", "audio": True, "video": True},
            {"type": "offer", "sdp": pc.localDescription.sdp, "trickle": False})
        await pc.setRemoteDescription(RTCSessionDescription(**_jsep(event)))

    async def subscribe(self, pc, counter: SubscriberCounter) -> None:
        handle = await self.session.attach()
        counter.offer_sent_at = time.monotonic()
        event = await self.session.message(handle, {
            "request": "join", "ptype": "subscriber", "room": self.room,
            "streams": [{"feed": f} for f in self.feeds]})
        await pc.setRemoteDescription(RTCSessionDescription(**_jsep(event)))
        counter.attach(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.session.message(handle, {"request": "start"}, {
            "type": "answer", "sdp": pc.localDescription.sdp, "trickle": False})

    async def close(self) -> None:
        pass  # the session's destroy detaches every handle


def _jsep(event: dict) -> dict:
    jsep = event.get("jsep")
    if not jsep:
        raise RuntimeError(f"janus event without jsep: {json.dumps(event)[:300]}")
    return {"sdp": jsep["sdp"], "type": jsep["type"]}
