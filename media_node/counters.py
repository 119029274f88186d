"""Process-wide counters of the media path, read by ``GET /metrics``.

Plain integers bumped on the event loop next to the per-object counters that already
exist (a writer's ``packets_out``, a source's ``pli_sent``): those vanish with their
session, these only grow, as Prometheus counters must. No lock: only the loop writes
them, except the recording figures, which the upload threads add to under the GIL.
"""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class MediaCounters:
    """Totals since the process started."""

    packets_in: int = 0  # RTP packets from publishers (direct path)
    bytes_in: int = 0
    packets_out: int = 0  # RTP packets to subscribers (direct path)
    bytes_out: int = 0
    nacks_received: int = 0  # sequence numbers subscribers asked for again
    nacks_sent: int = 0  # NACK packets sent to publishers
    packets_lost: int = 0  # sequence gaps seen from publishers
    plis_sent: int = 0  # keyframe requests relayed to publishers
    rtx_sent: int = 0  # retransmissions sent to subscribers
    queue_drops: int = 0  # frames a subscriber missed: socket backlog or queue full
    keyframe_skips: int = 0  # frames withheld while a subscriber waits for a keyframe
    upload_bytes: int = 0  # recording bytes the stores accepted
    upload_failures: int = 0  # store calls that failed after their retries
    recordings_failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


COUNTERS = MediaCounters()
