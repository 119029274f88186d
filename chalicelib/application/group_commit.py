"""Group commit: the commands for one room that arrive while its last save is under way
are applied, in arrival order, to one loaded room and saved in one transaction.

Without it, N concurrent commands on a room each load it, run and race to save with the
version they read; one wins each round and the others reload and run again, so a burst
of N costs about N²/2 loads and saves. With it, a burst costs a few saves: while one
thread (the leader) saves, the others queue behind the room's lock, and the next leader
takes the whole queue. A command is a pure function of the loaded room, so a batch that
loses a race with another process (another Lambda container) is simply run again.

Each Lambda container serves one request at a time, so there a batch is one command and
this is the plain optimistic loop; the batching pays off where one process serves many
requests at once (``make run``, a container behind a load balancer).
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain import Room
from chalicelib.domain.errors import DomainError

Command = Callable[[Room, Any], None]

# two DynamoDB transaction actions an event and a 100-action limit: leave room for the
# notification counter and a command that emits a few events at once
MAX_EVENTS_PER_SAVE = 40


@dataclass(eq=False)
class Submission:
    """One caller's command, its time, and once its batch is saved, its outcome."""

    command: Command
    now: Any
    done: bool = False
    room: Room | None = None
    saved: list[Any] = field(default_factory=list)  # its scheduled events and its own
    error: BaseException | None = None

    def finish(self, room: Room | None = None, saved: list[Any] | None = None,
               error: BaseException | None = None) -> None:
        self.room, self.saved, self.error, self.done = room, saved or [], error, True

    def outcome(self) -> tuple[Room, list[Any]]:
        if self.error is not None:
            raise self.error
        assert self.room is not None
        return self.room, self.saved


@dataclass(eq=False)
class RoomQueue:
    """The submissions waiting for one room, and the lock its leader holds."""

    commit: threading.Lock = field(default_factory=threading.Lock)
    pending: deque = field(default_factory=deque)
    users: int = 0


class Tainted(Exception):
    """A command was refused after it had changed the room (no command of the domain
    does, but an aggregate cannot take an event back): reload and run without it."""

    def __init__(self, submission: Submission, error: DomainError):
        super().__init__(str(error))
        self.submission, self.error = submission, error


class Overflow(Exception):
    """The batch's events passed ``MAX_EVENTS_PER_SAVE`` at command ``index``."""

    def __init__(self, index: int):
        super().__init__(f"batch full at command {index}")
        self.index = index


def apply_batch(room: Room, batch: list[Submission]) -> Callable[[], None]:
    """Run each submission on ``room`` in order, as if one after another: the scheduled
    transitions due at its time, then its command. Returns what settles every
    submission once the room's pending events are saved; raises :class:`Tainted` or
    :class:`Overflow` (the caller reloads and runs a smaller batch)."""
    outcomes: list[tuple[Submission, list[Any], DomainError | None]] = []
    for index, sub in enumerate(batch):
        start = len(room.pending_events)
        room.tick(sub.now)
        before = len(room.pending_events)
        try:
            sub.command(room, sub.now)
        except DomainError as error:
            if len(room.pending_events) != before:
                raise Tainted(sub, error) from error
            outcomes.append((sub, list(room.pending_events)[start:], error))
            continue
        if index and len(room.pending_events) > MAX_EVENTS_PER_SAVE:
            raise Overflow(index)
        outcomes.append((sub, list(room.pending_events)[start:], None))

    def settle() -> None:
        for sub, saved, error in outcomes:
            sub.finish(room, saved, error)
    return settle


class GroupCommit:
    """Per-room queues of commands. ``run(room_id, command, now, execute)`` returns the
    command's ``(room, saved events)`` or raises its error. ``execute(batch)`` is the
    application's load-apply-save loop: it finishes the submissions it saved or failed
    and leaves the rest, which go back to the head of the queue."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rooms: dict[Any, RoomQueue] = {}

    def run(self, room_id: Any, command: Command, now: Any,
            execute: Callable[[list[Submission]], None]) -> tuple[Room, list[Any]]:
        sub = Submission(command, now)
        queue = self._enter(room_id)
        try:
            queue.pending.append(sub)  # deque.append is atomic
            while not sub.done:
                with queue.commit:
                    if sub.done:  # a leader before us took it
                        break
                    batch = [queue.pending.popleft() for _ in range(len(queue.pending))]
                    try:
                        execute(batch)
                    finally:
                        # whatever execute did not finish goes back, first in line
                        queue.pending.extendleft(reversed([s for s in batch if not s.done]))
        finally:
            self._leave(room_id)
        return sub.outcome()

    def _enter(self, room_id: Any) -> RoomQueue:
        with self._lock:
            queue = self._rooms.get(room_id)
            if queue is None:
                queue = self._rooms[room_id] = RoomQueue()
            queue.users += 1
            return queue

    def _leave(self, room_id: Any) -> None:
        with self._lock:
            queue = self._rooms[room_id]
            queue.users -= 1
            if queue.users == 0:
                del self._rooms[room_id]
