"""ECS task scale-in protection while a node carries calls.

A protected task is stopped neither by the service's scale-in nor by a deployment, so a
roll-out waits for a node's calls to end instead of moving them (docs/deploy.md). The
node asks its ECS agent (``PUT ${ECS_AGENT_URI}/task-protection/v1/state``, which calls
``ecs:UpdateTaskProtection`` with the task role's credentials): protected for
``DROPON_TASK_PROTECTION_MINUTES`` from its first participant on, renewed at half that
while it has any, cleared when its last one leaves and at the end of a drain. A stopped
or hung node's protection lapses by itself at the end of the window.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import aiohttp

logger = logging.getLogger(__name__)
STATE_PATH = "/task-protection/v1/state"
RETRY_SECONDS, RETRY_MAX = 5.0, 300.0  # a refused request: again, doubling the wait
REQUEST_TIMEOUT = 5.0


class TaskProtection(Protocol):
    """What the node tells about its load to whatever keeps it from being stopped."""

    def busy(self, carrying: bool) -> None:
        """The node carries calls (``True``) or none (``False``); cheap, never blocks."""

    async def release(self) -> None:
        """Clear the protection now (the end of a drain)."""

    async def close(self) -> None:
        """Cancel every task and release connections."""


class NoTaskProtection:
    """Off ECS: nothing to protect."""

    def busy(self, carrying: bool) -> None:
        return None

    async def release(self) -> None:
        return None

    async def close(self) -> None:
        return None


class EcsAgentTaskProtection:
    """Scale-in protection through the ECS agent's endpoint.

    One task owned by this object sends the PUTs, so a burst of joins and leaves costs
    one request for the state it settles on; a refused or failed request is tried again
    after :data:`RETRY_SECONDS`, doubling up to :data:`RETRY_MAX`.

    :param agent_uri: ``ECS_AGENT_URI``, which the ECS agent sets in the container.
    :param minutes: ``ExpiresInMinutes`` of each protection (1-2880).
    :param retry: seconds before a refused or failed request is tried again (doubling).
    """

    def __init__(self, agent_uri: str, minutes: int, retry: float = RETRY_SECONDS) -> None:
        self.url = agent_uri.rstrip("/") + STATE_PATH
        self.minutes, self.retry = minutes, retry
        self.wanted = False
        self.protected = False  # or a protection request in flight
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._http: aiohttp.ClientSession | None = None

    def busy(self, carrying: bool) -> None:
        if carrying == self.wanted:
            return
        self.wanted = carrying
        self._changed.set()
        if self._task is None:
            self._task = asyncio.ensure_future(self._keep())

    async def _keep(self) -> None:
        retry = self.retry
        while True:
            self._changed.clear()
            wanted, wait = self.wanted, None  # None: nothing to do until a change
            if wanted or self.protected:
                if not await self._put(wanted):
                    wait, retry = retry, min(retry * 2, RETRY_MAX)
                else:
                    retry = self.retry
                    if wanted:
                        wait = self.minutes * 30.0  # renew at half the window
            try:
                await asyncio.wait_for(self._changed.wait(), wait)
            except asyncio.TimeoutError:
                pass

    async def _put(self, enabled: bool) -> bool:
        body: dict = {"ProtectionEnabled": enabled}
        if enabled:
            body["ExpiresInMinutes"] = self.minutes
            self.protected = True
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))
        try:
            async with self._http.put(self.url, json=body) as r:
                answer = await r.json(content_type=None)
                if r.status < 300 and "protection" in (answer or {}):
                    self.protected = enabled
                    logger.info("task scale-in protection %s",
                                f"set for {self.minutes} min" if enabled else "cleared")
                    return True
                logger.warning("task scale-in protection refused: HTTP %s %s", r.status,
                               answer)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            logger.warning("task scale-in protection: %s", exc)
        return False

    async def release(self) -> None:
        self.wanted = False
        await self._stop()
        if self.protected:
            await self._put(False)

    async def close(self) -> None:
        await self._stop()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
