"""The node's view of the control plane: heartbeats, the room events feed, leaves,
recordings' destinations and reports.

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
from structlog.contextvars import bind_contextvars, unbind_contextvars

logger = logging.getLogger(__name__)

EventHandler = Callable[[str, dict], Awaitable[None]]
StatsSource = Callable[[], dict]


class ControlPlane(Protocol):
    """What a media node needs from the control plane."""

    async def start(self, stats: StatsSource) -> None:
        """Begin heartbeats (the first one registers the node)."""

    async def heartbeat_now(self) -> bool:
        """Send one heartbeat at once (a drain's); whether the control plane took it."""

    def watch_room(self, room_id: str, handler: EventHandler) -> None:
        """Feed the room's events to ``handler(room_id, event)`` until unwatched."""

    def unwatch_room(self, room_id: str) -> None:
        """Stop following a room's events."""

    async def report_disconnected(self, room_id: str, participant_id: str, reason: str) -> None:
        """Report a connection that failed or went silent."""

    async def recording_destination(self, room_id: str, recording_id: str) -> dict:
        """The recording's destination, credentials still sealed
        (``GET /rooms/{roomId}/recordings/{recordingId}/destination``)."""

    async def report_recording(self, room_id: str, recording_id: str, report: dict) -> None:
        """One step of a recording (``POST .../report``), retried with backoff."""

    async def close(self) -> None:
        """Cancel every task and release connections."""


def mint_node_token(secret: str, node_id: str, ttl: int = 240) -> str:
    """The token this node presents to the control plane (``iss=node:<id>``, exp < 5 min)."""
    now = int(time.time())
    return jwt.encode(
        {"iss": f"node:{node_id}", "iat": now, "exp": now + ttl}, secret, algorithm="HS256"
    )


class StandaloneControlPlane:
    """No control plane: nothing to register with, events come only from callers.

    Recording destinations are whatever the caller put in :attr:`destinations` (by
    recording id); reports are kept in :attr:`recording_reports`.
    """

    reachable = True  # nothing to reach

    def __init__(self) -> None:
        self.disconnected: list[tuple[str, str, str]] = []
        self.destinations: dict[str, dict] = {}
        self.recording_reports: list[tuple[str, str, dict]] = []

    async def start(self, stats: StatsSource) -> None:
        return None

    async def heartbeat_now(self) -> bool:
        return True

    def watch_room(self, room_id: str, handler: EventHandler) -> None:
        return None

    def unwatch_room(self, room_id: str) -> None:
        return None

    async def report_disconnected(self, room_id: str, participant_id: str, reason: str) -> None:
        self.disconnected.append((room_id, participant_id, reason))
        logger.info("participant %s left room %s: %s", participant_id, room_id, reason)

    async def recording_destination(self, room_id: str, recording_id: str) -> dict:
        try:
            return self.destinations[recording_id]
        except KeyError:
            raise LookupError(f"no destination for recording {recording_id}") from None

    async def report_recording(self, room_id: str, recording_id: str, report: dict) -> None:
        self.recording_reports.append((room_id, recording_id, report))
        logger.info("recording %s of room %s: %s", recording_id, room_id, report.get("event"))

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
    :param report_attempts: tries of each recording report (backoff from
        ``report_delay`` s, doubling to 30 s).
    """

    def __init__(self, base_url: str, node_id: str, secret: str, public_url: str,
                 capacity: int, interval: float = 5.0, wait: float = 20.0,
                 report_attempts: int = 10, report_delay: float = 0.5) -> None:
        self._report_attempts = report_attempts
        self._report_delay = report_delay
        self._base = base_url.rstrip("/")
        self._node_id = node_id
        self._secret = secret
        self._public_url = public_url
        self._capacity = capacity
        self._interval = interval
        self._wait = wait
        self._http: aiohttp.ClientSession | None = None
        self._heartbeat: asyncio.Task | None = None
        self._stats: StatsSource | None = None
        self._last_taken: float | None = None  # monotonic time of the last heartbeat taken
        self._feeds: dict[str, asyncio.Task] = {}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_node_token(self._secret, self._node_id)}"}

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._wait + 10))
        return self._http

    @property
    def reachable(self) -> bool:
        """The control plane took a heartbeat within the last three intervals."""
        return (self._last_taken is not None
                and time.monotonic() - self._last_taken <= 3 * self._interval)

    async def start(self, stats: StatsSource) -> None:
        self._stats = stats
        self._heartbeat = asyncio.ensure_future(self._beat())

    async def _beat(self) -> None:
        while True:
            await self.heartbeat_now()
            await asyncio.sleep(self._interval)

    async def heartbeat_now(self) -> bool:
        url = f"{self._base}/nodes/{self._node_id}/heartbeat"
        stats = self._stats() if self._stats is not None else {}
        body = {"url": self._public_url, "capacity": self._capacity, "cpu": _cpu(), **stats}
        try:
            async with self._client().post(url, json=body, headers=self._headers()) as r:
                if r.status < 300:
                    self._last_taken = time.monotonic()
                    return True
                logger.warning("heartbeat refused: HTTP %s", r.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("heartbeat failed: %s", exc)
        return False

    def watch_room(self, room_id: str, handler: EventHandler) -> None:
        if room_id not in self._feeds:
            self._feeds[room_id] = asyncio.ensure_future(self._follow(room_id, handler))

    def unwatch_room(self, room_id: str) -> None:
        task = self._feeds.pop(room_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _follow(self, room_id: str, handler: EventHandler) -> None:
        # this task's lines are the room's, not those of the request that started it
        unbind_contextvars("participantId", "requestId")
        bind_contextvars(roomId=room_id)
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

    async def recording_destination(self, room_id: str, recording_id: str) -> dict:
        url = f"{self._base}/rooms/{room_id}/recordings/{recording_id}/destination"
        for attempt in range(4):
            try:
                async with self._client().get(url, headers=self._headers()) as r:
                    if r.status < 500:
                        r.raise_for_status()
                        return await r.json()
            except aiohttp.ClientResponseError:
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.5 * 2 ** attempt)
        raise ConnectionError(f"control plane did not give the destination of {recording_id}")

    async def report_recording(self, room_id: str, recording_id: str, report: dict) -> None:
        url = f"{self._base}/rooms/{room_id}/recordings/{recording_id}/report"
        delay = self._report_delay
        for _ in range(self._report_attempts):  # a lost report would leave it hanging
            try:
                async with self._client().post(url, json=report, headers=self._headers()) as r:
                    if r.status < 500 and r.status not in (408, 429):
                        if r.status >= 300:
                            logger.warning("recording %s: report %s refused: HTTP %s",
                                           recording_id, report.get("event"), r.status)
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                logger.warning("recording %s: report %s failed: %s", recording_id,
                               report.get("event"), exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        raise ConnectionError(f"control plane did not take the {report.get('event')} report "
                              f"of {recording_id}")

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
