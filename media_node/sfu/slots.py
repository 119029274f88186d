"""A subscriber's sending transceivers: what each one carries, released and reused.

In a stage room speakers come and go. Adding an m-line per speaker track ever seen
would grow the subscriber's SDP without bound and leave dead receivers behind, so a
transceiver whose track went away is *released* (the node stops sending on it and
says so by renegotiating it ``inactive``, or ``recvonly`` when the subscriber also
publishes on it) and the next track of the same kind and codec is sent on it again.

What aiortc 1.16 does with a transceiver that goes sendonly -> inactive -> sendonly:
- the sender is never stopped or restarted: ``send()`` runs once (``__started`` stays
  true), so the SSRC, RTX SSRC and the RTCP routing by SSRC stay as first negotiated,
  and the RTP task, once its track has ended, does not start again;
- the msid is ``sender._stream_id sender._track_id`` and changes only on
  ``replaceTrack``.

The SSRC must therefore carry on, and so must its sequence numbers: SRTP (the node's
own libsrtp session as much as the subscriber's) refuses a packet whose index falls
more than its replay window behind the last one of that SSRC, which a fresh random
sequence does half the time. A new SSRC is no way out: aiortc receivers route by the
SSRCs they learnt when they started and drop packets of a new one once two
transceivers share a payload type. So a reused transceiver keeps its
:class:`~media_node.sfu.fanout.RtpWriter`, which continues its own sequence after a
``resync()`` (as libwebrtc continues a suspended SSRC's sequence). On the ``pack``
path the sender's RTP task ends with the old track and aiortc never restarts it, so
``pack`` sessions release transceivers but do not reuse them.
"""
from __future__ import annotations

from dataclasses import dataclass

from aiortc import RTCRtpSender

from ..internals import aiortc_internals
from .fanout import RtpWriter
from .forwarding import ForwardedTrack, PublishedTrack


@dataclass(eq=False)
class Slot:
    """A transceiver the node sends on.

    :param transceiver: the subscriber's ``RTCRtpTransceiver``.
    :param sink: its writer (direct path) or the pack path's track.
    :param mime_type: the codec the sink was set up for.
    :param source: the track it carries; ``None`` once released.
    """

    transceiver: object
    sink: RtpWriter | ForwardedTrack
    mime_type: str
    source: PublishedTrack | None = None

    def can_carry(self, source: PublishedTrack) -> bool:
        """A released direct-path slot of the source's kind and codec (see module doc)."""
        return (self.source is None and isinstance(self.sink, RtpWriter)
                and not self.transceiver.stopped and self.transceiver.kind == source.kind
                and self.mime_type.lower() == source.mime_type.lower())

    def describe(self) -> dict | None:
        """``{mid, kind, participantId}`` for the ``tracks`` notice, or ``None``."""
        if self.source is None or self.transceiver.mid is None:
            return None
        return {"mid": self.transceiver.mid, "kind": self.transceiver.kind,
                "participantId": self.source.publisher_id}


def _subscriber_sends(transceiver) -> bool:
    # as last negotiated, else as the subscriber's pending offer says (node's view)
    direction = transceiver.currentDirection or aiortc_internals.offered_direction(transceiver)
    return direction in ("recvonly", "sendrecv")


def sending(transceiver) -> str:
    """The direction once the node sends: the subscriber's own sending, if any, goes on."""
    return "sendrecv" if _subscriber_sends(transceiver) else "sendonly"


def released(transceiver) -> str:
    """The direction once the node stops sending: ``recvonly`` keeps a publisher's media."""
    return "recvonly" if _subscriber_sends(transceiver) else "inactive"


def prefer_codec(transceiver, mime_type: str) -> bool:
    """Put ``mime_type`` first among the negotiated codecs (the sender uses the first).

    Forwarding cannot translate codecs, so a transceiver that lacks the source's
    codec cannot carry it.
    """
    codecs = list(aiortc_internals.negotiated_codecs(transceiver))
    if not codecs:  # not negotiated yet: offer only this codec (and its RTX)
        kind = mime_type.split("/")[0]
        caps = RTCRtpSender.getCapabilities(kind).codecs
        wanted = [c for c in caps if c.mimeType.lower() == mime_type.lower()]
        if not wanted:
            return False
        transceiver.setCodecPreferences(
            wanted + [c for c in caps if c.mimeType.lower().endswith("/rtx")])
        return True
    primary = [c for c in codecs if c.mimeType.lower() == mime_type.lower()]
    if not primary:
        return False
    chosen = primary[0]
    rtx = [c for c in codecs if c.mimeType.lower().endswith("/rtx")
           and c.parameters.get("apt") == chosen.payloadType]
    rest = [c for c in codecs if c is not chosen and c not in rtx]
    aiortc_internals.set_negotiated_codecs(transceiver, [chosen, *rtx, *rest])
    return True
