"""The node's per-track writers muxed on one clock: one timer and one pool job a tick.

Measured on the node (``bench/recording.py``), the work around each batch cost as much
as the muxing: a pump task per track woke twice a second on the loop, and each handed
the pool a job of its own. Here one timer on the loop takes every writer's queued
frames at each tick, one job of the pool (per :data:`JOBS_PER_CALL` writers) muxes them
all, the muxer's code warm from one track to the next, and one callback hands each
writer what its muxer flushed (:meth:`ClockedWriter.muxed`). No task runs per writer
unless a part of its object is full and must be sent.
"""
from __future__ import annotations

import asyncio
import logging
import math
from concurrent.futures import Executor, Future
from typing import Any, Callable, Protocol

logger = logging.getLogger(__name__)
JOBS_PER_CALL = 16  # writers muxed by one pool job at most (the pool's threads share more)


class ClockedWriter(Protocol):
    """What the clock needs of a writer (a :class:`~.track_writer.TrackWriter`)."""

    in_flight: asyncio.Future | None  # set by the clock while the writer's batch is muxed

    def take_batch(self) -> tuple[Callable, tuple]:
        """The call that muxes what was queued since the last tick (run in the pool)."""

    def muxed(self, ok: bool, value: Any) -> None:
        """The call's result (``ok``) or exception, back on the loop."""

    def waiting(self) -> None:
        """A tick came while the last batch is still being muxed (the writer may bound
        what it queues meanwhile)."""


def next_tick(now: float, interval: float) -> float:
    """The first multiple of ``interval`` after ``now``."""
    return (math.floor(now / interval) + 1) * interval


def run_all(calls: list[tuple[Callable, tuple]]) -> list[tuple[bool, Any]]:
    """In the pool: each call's ``(True, result)`` or ``(False, exception)``; one failing
    never stops the rest."""
    results = []
    for fn, args in calls:
        try:
            results.append((True, fn(*args)))
        except Exception as exc:  # noqa: BLE001 (handed to its own writer)
            results.append((False, exc))
    return results


class MuxClock:
    """Ticks every ``interval`` seconds while it has writers, muxing them in ``pool``.

    A writer whose last batch is still being muxed at a tick is skipped (its frames wait
    for the next one), so one writer's batches never overlap.
    """

    def __init__(self, pool: Executor, interval: float) -> None:
        self.pool = pool
        self.interval = interval
        self._writers: dict[ClockedWriter, None] = {}  # in the order added
        self._timer: asyncio.TimerHandle | None = None

    def add(self, writer: ClockedWriter) -> None:
        """Mux ``writer`` at every tick from the next one."""
        self._writers[writer] = None
        if self._timer is None:
            self._schedule(asyncio.get_running_loop())

    def discard(self, writer: ClockedWriter) -> None:
        """No more ticks for ``writer`` (a batch in flight still ends in ``muxed``)."""
        self._writers.pop(writer, None)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = loop.call_at(next_tick(loop.time(), self.interval), self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if not self._writers:
            return
        self._schedule(loop)
        due = []
        for writer in self._writers:
            if writer.in_flight is None:
                due.append(writer)
            else:
                writer.waiting()
        for start in range(0, len(due), JOBS_PER_CALL):
            writers = due[start:start + JOBS_PER_CALL]
            calls = []
            for writer in writers:
                writer.in_flight = loop.create_future()
                calls.append(writer.take_batch())
            try:
                job = self.pool.submit(run_all, calls)
            except RuntimeError as exc:  # the pool is shut down: the node is stopping
                self._settle(writers, [(False, exc)] * len(writers))
                continue
            job.add_done_callback(
                lambda done, writers=writers: loop.call_soon_threadsafe(
                    self._settled, writers, done))

    def _settled(self, writers: list[ClockedWriter], job: Future) -> None:
        try:
            results = job.result()
        except Exception as exc:  # noqa: BLE001 (run_all never raises; a cancelled job)
            results = [(False, exc)] * len(writers)
        self._settle(writers, results)

    @staticmethod
    def _settle(writers: list[ClockedWriter], results: list[tuple[bool, Any]]) -> None:
        for writer, (ok, value) in zip(writers, results):
            try:
                writer.muxed(ok, value)
            except Exception:  # noqa: BLE001 (one writer's bug never stalls the others)
                logger.exception("recording: handing a muxed batch back failed")
            done, writer.in_flight = writer.in_flight, None
            if done is not None and not done.done():
                done.set_result(None)
