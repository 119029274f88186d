"""REMB to publishers: a configured cap, not a delay-based estimate.

aiortc's receiver runs a delay-based ``RemoteBitrateEstimator`` on every video packet
and sends its estimate as REMB. On a media node the delay it measures includes the
node's own event-loop lag, so a busy node read its own lateness as network congestion
and told every publisher to lower its bitrate. The node does what Janus's videoroom
does instead: it runs no estimator and sends each publisher a fixed cap
(``DROPON_PUBLISHER_MAX_BITRATE``) on its first video packet and then about once a
second. The publisher's own sender-side estimate still adapts to loss, which the
receiver reports it gets from the node carry (aiortc's ``StreamStatistics``, kept per
packet by :mod:`media_node.sfu.ingest`); REMB only bounds it from above.

libwebrtc applies a REMB to the whole connection (its SSRC list is not used to split
it), so the cap bounds the publisher's audio and video together; a publisher with two
video tracks gets the same cap from both receivers, which is still one cap.
"""
from __future__ import annotations

from ..config import DEFAULT_PUBLISHER_MAX_BITRATE, check_publisher_max_bitrate

REMB_INTERVAL_MS = 1000

_publisher_max_bitrate = DEFAULT_PUBLISHER_MAX_BITRATE


def set_publisher_max_bitrate(value: int) -> None:
    """Set the cap that publishers' receive paths created from now on send (per process)."""
    global _publisher_max_bitrate
    check_publisher_max_bitrate(value)
    _publisher_max_bitrate = value


def publisher_max_bitrate() -> int:
    """The cap in bits/s; 0 means no REMB is sent."""
    return _publisher_max_bitrate


class RembSchedule:
    """When to send the cap: at the first chance, then every ``interval_ms``.

    Driven by packet arrival times, so a publisher that sends nothing gets nothing,
    and a late packet never makes the node send more often than once per interval.

    :param bitrate: the cap in bits/s; 0 means never.
    """

    def __init__(self, bitrate: int, interval_ms: int = REMB_INTERVAL_MS) -> None:
        self.bitrate = bitrate
        self.interval_ms = interval_ms
        self.next_ms: int | None = None if bitrate else -1  # -1: disabled

    def due(self, now_ms: int) -> bool:
        """Whether to send now; if so, it counts as sent (call only when able to send)."""
        next_ms = self.next_ms
        if next_ms is not None and (next_ms < 0 or now_ms < next_ms):
            return False
        self.next_ms = now_ms + self.interval_ms
        return True
