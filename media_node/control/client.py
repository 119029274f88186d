"""The node's view of the control plane: heartbeats, the room events feed, leaves.

:class:`StandaloneControlPlane` serves ``DROPON_CONTROL_URL=""`` (tests, benchmarks);
:class:`HttpControlPlane` follows docs/architecture.md.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Awaitable, Callable, Protocol

import aiohttp
import jwt

logger = logging.getLogger(__name__)

EventHandler = Callable[[str, dict], Awaitable[None]]
StatsSource = Callable[[], dict]


class ControlPlane(Protocol):
    """What a media node needs from the control plane."""

    async def start(self, stats: StatsSource) -> None:
        """Begin heartbeats (the first one registers the node)."""

    def watch_room(self, room_id: str, handler: EventHandler) -> None:
        """Feed the room's events to ``handler(room_id, event)`` until unwatched."""

    def unwatch_room(self, room_id: str) -> None:
        """Stop following a room's events."""

    async def report_disconnected(self, room_id: str, participant_id: str, reason: str) -> None:
        """Report a connection that failed or went silent."""

    async def close(self) -> None:
        """Cancel every task and release connections."""


def mint_node_token(secret: str, node_id: str, ttl: int = 240) -> str:
    """The token this node presents to the control plane (``iss=node:<id>``, exp < 5 min)."""
    now = int(time.time())
    return jwt.encode(
        {"iss": f"node:{node_id}", "iat": now, "exp": now + ttl}, secret, algorithm="HS256"
    )


class StandaloneControlPlane:
    """No control plane: nothing to register with, events come only from callers."""

    def __init__(self) -> None:
        self.disconnected: list[tuple[str, str, str]] = []

    async def start(self, stats: StatsSource) -> None:
        return None

    def watch_room(self, room_id: str, handler: EventHandler) -> None:
        return None

    def unwatch_room(self, room_id: str) -> None:
        return None

    async def report_disconnected(self, room_id: str, participant_id: str, reason: str) -> None:
        self.disconnected.append((room_id, participant_id, reason))
        logger.info("participant %s left room %s: %s", participant_id, room_id, reason)

    async def close(self) -> None:
        return None


class HttpControlPlane:
    """The control plane's HTTP API, authenticated with node tokens.

    :param base_url: ``DROPON_CONTROL_URL``.
    :param node_id: this node's id.
    :param secret: ``DROPON_NODE_SECRET``.
    :param public_url: where clients reach this node (sent in heartbeats).
    :param capacity: participants this node accepts.
    :param interval: seconds between heartbeats.
    :param wait: long-poll wait in seconds.
    """

    def __init__(self, base_url: str, node_id: str, secret: str, public_url: str,
                 capacity: int, interval: float = 5.0, wait: float = 20.0) -> None:
        self._base = base_url.rstrip("/")
        self._node_id = node_id
        self._secret = secret
        self._public_url = public_url
        self._capacity = capacity
        self._interval = interval
        self._wait = wait
        self._http: aiohttp.ClientSession | None = None
        self._heartbeat: asyncio.Task | None = None
        self._feeds: dict[str, asyncio.Task] = {}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_node_token(self._secret, self._node_id)}"}

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._wait + 10))
        return self._http

    async def start(self, stats: StatsSource) -> None:
        self._heartbeat = asyncio.ensure_future(self._beat(stats))

    async def _beat(self, stats: StatsSource) -> None:
        url = f"{self._base}/nodes/{self._node_id}/heartbeat"
        while True:
            body = {"url": self._public_url, "capacity": self._capacity, "cpu": _cpu(), **stats()}
            try:
                async with self._client().post(url, json=body, headers=self._headers()) as r:
                    if r.status >= 300:
                        logger.warning("heartbeat refused: HTTP %s", r.status)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                logger.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(self._interval)

    def watch_room(self, room_id: str, handler: EventHandler) -> None:
        if room_id not in self._feeds:
            self._feeds[room_id] = asyncio.ensure_future(self._follow(room_id, handler))

    def unwatch_room(self, room_id: str) -> None:
        task = self._feeds.pop(room_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _follow(self, room_id: str, handler: EventHandler) -> None:
        after, backoff = 0, 0.5
        url = f"{self._base}/rooms/{room_id}/events"
        while self._feeds.get(room_id) is asyncio.current_task():  # until unwatched
            try:
                params = {"after": str(after), "wait": str(int(self._wait))}
                async with self._client().get(url, params=params, headers=self._headers()) as r:
                    if r.status in (403, 404):  # moved to another node, or gone
                        logger.warning("events feed of room %s refused: HTTP %s", room_id, r.status)
                        self.unwatch_room(room_id)
                        return
                    r.raise_for_status()
                    payload = await r.json()
                events = payload.get("events", []) if isinstance(payload, dict) else payload
                for event in events:
                    seq = int(event.get("seq", after))
                    if seq <= after:
                        continue  # already applied
                    await handler(room_id, event)
                    after = seq
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # resume from `after`; nothing is skipped
                logger.warning("events feed of room %s: %s", room_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def report_disconnected(self, room_id: str, participant_id: str, reason: str) -> None:
        url = f"{self._base}/rooms/{room_id}/participants/{participant_id}/disconnected"
        for attempt in range(3):  # idempotent on the control plane: safe to retry
            try:
                async with self._client().post(url, json={"reason": reason},
                                               headers=self._headers()) as r:
                    if r.status < 500:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.5 * 2 ** attempt)
        raise ConnectionError(f"control plane did not take the leave of {participant_id}")

    async def close(self) -> None:
        tasks = [t for t in [self._heartbeat, *self._feeds.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._feeds.clear()
        if self._http is not None:
            await self._http.close()


def _cpu() -> float:
    """Process CPU seconds per wall second since the last call (a rough load figure)."""
    now, used = time.monotonic(), sum(os.times()[:2])
    last = getattr(_cpu, "last", None)
    _cpu.last = (now, used)
    if last is None or now <= last[0]:
        return 0.0
    return round((used - last[1]) / (now - last[0]), 3)
