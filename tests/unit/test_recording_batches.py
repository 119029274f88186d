"""The node's writers are muxed on one clock: on the loop in turns, then one pool job a
tick for all of them."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from media_node.recording import batches
from media_node.recording.batches import JOBS_PER_CALL, MuxClock, next_tick

TICK = 0.02


class CountingPool(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.jobs = 0

    def submit(self, fn, /, *args, **kwargs):
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


class Writer:
    """What the clock sees of a track writer: its queued frames are numbers; muxing
    them on the loop takes ``busy`` seconds there (or raises), and the pool's part sums
    them (or raises, or waits for ``gate``)."""

    def __init__(self, fail: bool = False, gate: threading.Event | None = None,
                 busy: float = 0.0, fail_on_loop: bool = False) -> None:
        self.in_flight = None
        self.queue: list[int] = []
        self.results: list = []
        self.fail, self.gate, self.busy, self.fail_on_loop = fail, gate, busy, fail_on_loop
        self.threads: set[str] = set()
        self.loop_threads: set[str] = set()
        self.waited = 0  # ticks that came while its batch was in flight
        self.turns: list[int] = []  # the loop's turn each batch was muxed in

    def take_batch(self):
        self.loop_threads.add(threading.current_thread().name)
        self.turns.append(Turns.count)
        if self.busy:
            time.sleep(self.busy)  # what muxing costs the loop, which it holds meanwhile
        if self.fail_on_loop:
            raise ValueError("invalid data found when processing input")
        batch, self.queue = self.queue, []
        return self.mux, (batch,)

    def mux(self, batch):
        self.threads.add(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail:
            raise OSError("disk full")
        return sum(batch)

    def muxed(self, ok, value):
        self.results.append((ok, value if ok else str(value)))

    def waiting(self):
        assert self.in_flight is not None
        self.waited += 1


class Turns:
    """Counts the loop's turns while :meth:`run` runs (a task that only yields)."""

    count = 0

    @classmethod
    async def run(cls) -> None:
        while True:
            cls.count += 1
            await asyncio.sleep(0)


def test_muxing_runs_on_the_loop_in_turns_that_let_forwarding_run_between_them():
    """Writers whose muxing holds the loop 0.7 ms each are muxed a turn of the loop
    (about TURN = 1 ms) at a time, not all in one; each then finishes in the pool."""
    async def scenario(pool):
        counting = asyncio.ensure_future(Turns.run())
        writers = await first_outcomes(pool, [Writer(busy=0.0007) for _ in range(12)])
        counting.cancel()
        return writers

    assert batches.TURN == 0.001
    with CountingPool() as pool:
        writers = asyncio.run(scenario(pool))
    first = [w.turns[0] for w in writers]
    per_turn = {turn: first.count(turn) for turn in first}
    assert max(per_turn.values()) <= 2 and len(per_turn) >= 6, per_turn
    assert first == sorted(first), "in the order they were added"
    assert all(w.results[0] == (True, 1) for w in writers)
    main = threading.main_thread().name
    assert all(w.loop_threads == {main} and main not in w.threads for w in writers)


def test_a_writer_whose_muxing_fails_on_the_loop_hears_it_and_the_others_go_on():
    with CountingPool() as pool:
        good, bad, other = asyncio.run(first_outcomes(
            pool, [Writer(), Writer(fail_on_loop=True), Writer()]))
    assert bad.results[0] == (False, "invalid data found when processing input")
    assert not bad.threads and bad.in_flight is None, "nothing of it went to the pool"
    assert good.results[0] == other.results[0] == (True, 1)


def test_every_writer_is_muxed_at_each_tick_in_one_job_and_hears_its_own_outcome():
    async def scenario(pool):
        clock = MuxClock(pool, TICK)
        writers = [Writer(), Writer(), Writer(fail=True)]
        for w in writers:
            clock.add(w)
        for n in (1, 2, 3):
            for w in writers:
                w.queue.append(n)
            jobs = pool.jobs
            while writers[0].results[-1:] != [(True, n)] or any(w.in_flight for w in writers):
                await asyncio.sleep(TICK / 4)
            assert pool.jobs - jobs >= 1
        ticks = pool.jobs
        for w in writers:
            clock.discard(w)
        await asyncio.sleep(TICK * 3)
        return writers, ticks, pool.jobs

    with CountingPool() as pool:
        writers, ticks, after = asyncio.run(scenario(pool))
    a, b, failing = writers
    assert (True, 3) in a.results and (True, 3) in b.results
    assert all(r == (False, "disk full") for r in failing.results) and failing.results
    # one job per tick for the three writers: as many jobs as each writer had batches
    assert ticks == len(a.results) == len(failing.results)
    assert after == ticks, "no tick once every writer is gone"


def test_a_writer_still_muxing_is_skipped_and_never_muxed_twice_at_once():
    async def scenario(pool):
        clock = MuxClock(pool, TICK)
        gate = threading.Event()
        slow, quick = Writer(gate=gate), Writer()
        clock.add(slow)
        clock.add(quick)
        slow.queue.append(5)
        while slow.in_flight is None:
            await asyncio.sleep(TICK / 4)
        for n in range(4):  # ticks go on while the slow batch is muxed
            quick.queue.append(1)
            await asyncio.sleep(TICK)
        slow.queue.append(7)  # waits for the next tick after the slow one
        gate.set()
        while slow.results[-1:] != [(True, 7)]:
            await asyncio.sleep(TICK / 4)
        clock.discard(slow)
        clock.discard(quick)
        return slow, quick

    with CountingPool() as pool:
        slow, quick = asyncio.run(scenario(pool))
    assert [v for ok, v in slow.results if v] == [5, 7]
    assert slow.waited >= 3 and quick.waited >= 3, "told of each tick they sat out"
    # the quick one shared the slow one's job, so it waited too; nothing of it was lost
    assert sum(v for _, v in quick.results) == 4


async def first_outcomes(pool, writers: list[Writer]) -> list[Writer]:
    """``writers`` with one frame queued each, on one clock, once each has heard of its
    first batch."""
    clock = MuxClock(pool, TICK)
    for w in writers:
        w.queue.append(1)
        clock.add(w)
    while not all(w.results for w in writers):
        await asyncio.sleep(TICK / 4)
    for w in writers:
        clock.discard(w)
    return writers


def test_many_writers_are_shared_between_the_pools_threads():
    with CountingPool() as pool:
        writers = asyncio.run(first_outcomes(pool, [Writer() for _ in range(JOBS_PER_CALL + 3)]))
        assert pool.jobs >= 2
    assert all(w.results[0] == (True, 1) for w in writers)


def test_a_pool_shut_down_fails_each_writer():
    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    writers = asyncio.run(first_outcomes(pool, [Writer(), Writer()]))
    assert all(not w.results[0][0] and "shutdown" in w.results[0][1] for w in writers)
    assert all(w.in_flight is None for w in writers)


@pytest.mark.parametrize("now,interval,expected", [(0.0, 1.0, 1.0), (12.3, 1.0, 13.0),
                                                   (13.0, 1.0, 14.0), (4.12, 0.05, 4.15)])
def test_the_next_tick_is_the_next_multiple_of_the_interval(now, interval, expected):
    assert next_tick(now, interval) == pytest.approx(expected) and next_tick(now, interval) > now
