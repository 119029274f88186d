"""What a lost node left in a destination, and when the tick looks again.

A recording failed ``node_lost`` has its destination swept: the objects under its
prefix listed, its unfinished multipart uploads aborted (``RecordingLeftoversListed``).
A sweep the store could not answer for a reason that passes (unreachable, a 5xx) is
tried again on later ticks, on a :class:`SweepSchedule`; one that can never succeed
(the destination deleted, sealed secrets, a 4xx) is not. A retry is recorded only when
its outcome differs from the last one recorded, and so is the give-up, so that a store
down for days does not fill the room's history.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SWEPT = "swept"  # listed, every unfinished upload aborted
RETRYING = "retrying"  # a transient error: a later tick tries again
STOPPED = "stopped"  # an error no retry can fix
GAVE_UP = "gave_up"  # still a transient error when the schedule ran out


@dataclass(frozen=True)
class SweepSchedule:
    """When a failed sweep is tried again: ``first_delay`` s after the first attempt,
    doubling up to ``max_delay``; at most ``max_attempts`` in all, none after
    ``deadline`` s from the first."""

    first_delay: float = 60.0
    max_delay: float = 4 * 3600.0
    max_attempts: int = 30
    deadline: float = 7 * 24 * 3600.0

    def delay(self, attempts: int) -> float:
        """Seconds from attempt number ``attempts`` to the next."""
        return min(self.first_delay * 2.0 ** min(max(attempts - 1, 0), 60), self.max_delay)

    def due(self, attempts: int, last: datetime, now: datetime) -> bool:
        """Whether the next attempt is due (the first one, with ``attempts`` 0, is)."""
        return attempts == 0 or now >= last + timedelta(seconds=self.delay(attempts))

    def last_chance(self, since: datetime, attempt: int, now: datetime) -> bool:
        """Whether attempt number ``attempt``, made ``now``, is the last one allowed
        (``since``: when the first was made)."""
        following = now + timedelta(seconds=self.delay(attempt))
        return attempt >= self.max_attempts or following > since + timedelta(
            seconds=self.deadline)


def sweep_status(leftovers: dict[str, Any]) -> str:
    # leftovers listed before retries existed carry no status: they were never retried
    return leftovers.get("status") or (STOPPED if leftovers.get("error") else SWEPT)


def outcome(last: dict[str, Any] | None, found: dict[str, Any], *,
            last_chance: bool) -> dict[str, Any]:
    """The leftovers after a sweep that ``found`` ``{objects, uploads, error,
    retryable}``: what every sweep found so far (by key and upload id, the newest entry
    of each), the error of this one, and the status it leaves."""
    error = found.get("error")
    if not error:
        status = SWEPT
    elif not found.get("retryable"):
        status = STOPPED
    else:
        status = GAVE_UP if last_chance else RETRYING
    last = last or {}
    return {"objects": _merged(last.get("objects"), found.get("objects"), "key"),
            "uploads": _merged(last.get("uploads"), found.get("uploads"), "uploadId"),
            "error": error, "status": status}


def same_outcome(last: dict[str, Any], after: dict[str, Any]) -> bool:
    return sweep_status(last) == after["status"] and all(
        last.get(k) == after[k] for k in ("objects", "uploads", "error"))


def _merged(before: list | None, now: list | None, key: str) -> list:
    entries = {e[key]: e for e in before or []}
    entries.update({e[key]: e for e in now or []})
    return list(entries.values())
