"""The node's per-track writers muxed on one clock: one timer, and one pool job a tick.

Measured on the node (``bench/recording.py``), the work around each batch cost as much
as the muxing: a pump task per track woke twice a second on the loop, and each handed
the pool a job of its own. Here one timer on the loop ticks for every writer. At a tick,
each writer's queued frames are muxed on the loop (:meth:`ClockedWriter.take_batch`:
the muxer writes into memory), writer after writer in turns of the loop of about
:data:`TURN` seconds, so that forwarding runs between them; then one job of the pool
(per :data:`JOBS_PER_CALL` writers) does what blocks, putting the bytes on the disk and
reading back what to send, and one callback hands each writer its outcome
(:meth:`ClockedWriter.muxed`). No task runs per writer unless a part of its object is
full and must be sent.

Muxing in the pool instead cost the process more than the pool's CPU time, on the
forwarding thread (``docs/media-node.md``, Measured).
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from concurrent.futures import Executor, Future
from typing import Any, Callable, Protocol

logger = logging.getLogger(__name__)
JOBS_PER_CALL = 16  # writers served by one pool job at most (the pool's threads share more)
TURN = 0.001  # seconds of muxing on the loop before forwarding gets a turn (one writer's
# batch at least: its 2 s of frames)


class ClockedWriter(Protocol):
    """What the clock needs of a writer (a :class:`~.track_writer.TrackWriter`)."""

    in_flight: asyncio.Future | None  # set by the clock from a tick to the outcome

    def take_batch(self) -> tuple[Callable, tuple]:
        """On the loop: mux what was queued since the last tick (never blocking), and
        return the call that does the rest (run in the pool)."""

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
    """Ticks every ``interval`` seconds while it has writers: muxes them on the loop,
    then finishes their batches in ``pool``.

    A writer whose last batch is still in flight at a tick is skipped (its frames wait
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
                writer.in_flight = loop.create_future()
                due.append(writer)
            else:
                writer.waiting()
        if due:
            self._turn(loop, due, 0, [])

    def _turn(self, loop: asyncio.AbstractEventLoop, due: list[ClockedWriter], at: int,
              taken: list[tuple[ClockedWriter, tuple[Callable, tuple]]]) -> None:
        """Mux ``due[at:]`` on the loop for about :data:`TURN` seconds, the rest in a
        later turn; once all are muxed, hand the pool what remains of their batches."""
        until = time.perf_counter() + TURN
        while at < len(due):
            writer = due[at]
            at += 1
            try:
                taken.append((writer, writer.take_batch()))
            except Exception as exc:  # noqa: BLE001 (handed to its own writer)
                self._settle([writer], [(False, exc)])
            if at < len(due) and time.perf_counter() >= until:
                loop.call_soon(self._turn, loop, due, at, taken)
                return
        for start in range(0, len(taken), JOBS_PER_CALL):
            writers = [writer for writer, _ in taken[start:start + JOBS_PER_CALL]]
            calls = [call for _, call in taken[start:start + JOBS_PER_CALL]]
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
