"""One participant's peer connection: publish, subscribe, renegotiate, close."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable, Protocol

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from ..errors import BadRequest
from ..ice.binding import IceBinding
from ..ice.loopback import (enlarge_socket_buffers, filter_candidates, is_loopback,
                            rtc_configuration)
from ..internals import aiortc_internals
from ..signaling import notices
from ..signaling.extmap import align_extmap
from ..signaling.payload_types import align_payload_types
from ..signaling.tokens import MediaClaims
from .fanout import RtpWriter
from .forwarding import ForwardedTrack, PublishedTrack
from .reports import SenderReports
from .slots import Slot, prefer_codec, released, sending

logger = logging.getLogger(__name__)
ANSWER_TIMEOUT = 10.0


class Publications(Protocol):
    """What a session needs of its room (:class:`~media_node.sfu.room.Room`): where to
    announce the tracks it publishes. The room knows sessions; a session knows only this."""

    id: str

    def publish(self, session: "Session", source: PublishedTrack) -> None:
        """Offer ``source`` to every other session of the room."""

    def unpublish(self, source: PublishedTrack) -> None:
        """Withdraw ``source`` from every subscriber."""

    def allows(self, kind: str) -> bool:
        """Whether a track of ``kind`` may be published (no video in an audio-only room)."""


class Session:
    """A participant's single peer connection with the node.

    :param session_id: unguessable id, the last part of the session URL.
    :param claims: the verified media token.
    :param room: the room this session is in.
    :param loopback_only: drop remote candidates outside 127.0.0.0/8.
    :param on_end: called once with ``(session, reason)`` when the connection fails.
    :param direct: forward on the lean direct path rather than aiortc's pack path.
    :param ice: the node's ICE socket policy (port range, announced address).
    """

    def __init__(self, session_id: str, claims: MediaClaims, room: Publications,
                 loopback_only: bool, on_end: Callable[["Session", str], None],
                 direct: bool = True, ice: IceBinding | None = None) -> None:
        self.id = session_id
        self.claims = claims
        self.role = claims.role
        self.room = room
        self.pc = RTCPeerConnection(rtc_configuration())
        if ice is not None:
            ice.attach(self.pc)
        self.published: list[PublishedTrack] = []
        self.forwarded: dict[PublishedTrack, ForwardedTrack | RtpWriter] = {}
        self.closed = False
        self._loopback_only = loopback_only
        self._direct = direct
        self._reports = SenderReports()
        self._on_end = on_end
        self._channel = None
        self._pending: list[PublishedTrack] = []
        self._slots: dict[object, Slot] = {}  # transceivers the node sends on
        self._released = False  # a slot was released since the last offer
        self._starting: list[tuple[Slot, PublishedTrack]] = []  # reused, awaiting the answer
        self._want_publish = False
        self._answer: asyncio.Future | None = None
        self._renegotiation: asyncio.Task | None = None
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def participant_id(self) -> str:
        """The ``sub`` of the media token."""
        return self.claims.participant_id

    @property
    def can_publish(self) -> bool:
        """Hosts and speakers may publish."""
        return self.role in ("host", "speaker")

    def _filter(self, sdp: str) -> str:
        return filter_candidates(sdp) if self._loopback_only else sdp

    async def accept(self, offer_sdp: str, sources: list[PublishedTrack]) -> str:
        """Apply the client's offer, attach current ``sources``, return the answer SDP."""
        try:
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=self._filter(offer_sdp), type="offer"))
        except Exception as exc:  # aiortc raises ValueError, OperationError, ...
            raise BadRequest("bad_sdp", f"offer rejected: {exc}") from None
        for source in sources:
            if not self._attach(source, renegotiate=False):
                self._pending.append(source)
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        return self.pc.localDescription.sdp

    async def add_candidates(self, fragment: str) -> None:
        """Trickle ICE: add candidates from an ``application/trickle-ice-sdpfrag`` body."""
        mid = None
        for raw in fragment.splitlines():
            line = raw.strip()
            if line.startswith("a=mid:"):
                mid = line[6:]
            elif line.startswith("a=candidate:"):
                try:
                    candidate = candidate_from_sdp(line[2:].split(":", 1)[1])
                except (ValueError, IndexError, AssertionError):  # aiortc asserts the shape
                    raise BadRequest("bad_candidate", f"cannot parse {line[:80]!r}") from None
                if self._loopback_only and not is_loopback(candidate.ip):
                    continue
                candidate.sdpMid = mid
                await self.pc.addIceCandidate(candidate)

    # --- publishing -------------------------------------------------------

    def _on_track(self, track) -> None:
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        if not self.can_publish:
            return  # offers from audience are refused earlier; demoted peers are dropped
        codecs = aiortc_internals.negotiated_codecs(transceiver)
        mime = codecs[0].mimeType if codecs else ""
        source = PublishedTrack(track.kind, self.participant_id, transceiver.receiver, mime)
        if not self.room.allows(track.kind):
            # an audio-only room: answered inactive (this runs before the answer is made),
            # so the client sends nothing; a video track in the client's answer to a node
            # offer (a race with a policy change) is inactive from the next offer on, and
            # what comes meanwhile is drained unread by the closed source, never decoded
            transceiver.direction = "inactive"
            source.close()
            return
        self.published.append(source)
        self.room.publish(self, source)

    def unpublish(self, kind: str | None = None) -> None:
        """Stop forwarding what this session publishes: every track, or those of ``kind``.

        The publisher's packets still come until it renegotiates; they are dropped unread.
        """
        for source in [s for s in self.published if kind in (None, s.kind)]:
            self.room.unpublish(source)
            source.close()
            self.published.remove(source)

    # --- subscribing ------------------------------------------------------

    def _attach(self, source: PublishedTrack, renegotiate: bool) -> bool:
        """Send ``source`` on a transceiver never used yet that can carry its codec."""
        for transceiver in self.pc.getTransceivers():
            if (transceiver.kind != source.kind or transceiver in self._slots
                    or transceiver.sender.track is not None or transceiver.stopped):
                continue
            offered = aiortc_internals.offered_direction(transceiver) or transceiver.direction
            if not renegotiate and offered not in ("sendonly", "sendrecv"):
                continue
            if renegotiate and transceiver.currentDirection not in (None, "inactive"):
                continue
            if not prefer_codec(transceiver, source.mime_type):
                continue
            if self._direct:
                sink = RtpWriter(source.kind, transceiver.sender, transceiver)
            else:
                sink = source.subscribe()
                transceiver.sender.replaceTrack(sink)
            slot = self._slots[transceiver] = Slot(transceiver, sink, source.mime_type)
            self._carry(slot, source)
            return True
        return False

    def _reuse(self, source: PublishedTrack) -> bool:
        """Send ``source`` on a released transceiver, if one can carry it."""
        slot = next((s for s in self._slots.values() if s.can_carry(source)), None)
        if slot is None or not prefer_codec(slot.transceiver, source.mime_type):
            return False
        slot.sink.resync()  # same SSRC: its sequence numbers carry on
        slot.sink.need_keyframe = source.kind == "video"
        # its sender is running: writing before the answer would reach a receiver the
        # subscriber has not enabled again, which drops the packets (keyframe included)
        self._carry(slot, source, write=False)
        self._starting.append((slot, source))
        return True

    def _carry(self, slot: Slot, source: PublishedTrack, write: bool = True) -> None:
        slot.source = source
        if write:
            self._write(slot, source)
        self.forwarded[source] = slot.sink
        transceiver = slot.transceiver
        # aiortc ignores keyframe requests on its pack path: relay them instead
        aiortc_internals.relay_keyframe_requests(transceiver.sender, source.request_keyframe)
        transceiver.direction = sending(transceiver)

    def _write(self, slot: Slot, source: PublishedTrack) -> None:
        if isinstance(slot.sink, RtpWriter) and slot.source is source and not source.closed:
            source.add_writer(slot.sink)
            self._reports.add(slot.sink.sender)

    def add_source(self, source: PublishedTrack) -> None:
        """A new speaker track appeared in the room: renegotiate to send it."""
        self._pending.append(source)
        self.renegotiate()

    def remove_source(self, source: PublishedTrack) -> None:
        """A speaker track went away: release its transceiver and tell the subscriber."""
        if source in self._pending:
            self._pending.remove(source)
        sink = self.forwarded.pop(source, None)
        if sink is None:
            return
        source.unsubscribe(sink)
        # no RTCP BYE: an aiortc receiver stops decoding for good on one, and this SSRC
        # goes on when the m-line is reused; its sender reports stay true meanwhile
        slot = next(s for s in self._slots.values() if s.source is source)
        slot.source = None
        slot.transceiver.direction = released(slot.transceiver)
        self._released = True
        self.renegotiate()

    def tracks(self) -> list[dict]:
        """Which participant each sending m-line carries now (the ``tracks`` notice)."""
        return [d for d in (s.describe() for s in self._slots.values()) if d is not None]

    def set_role(self, role: str) -> None:
        """Promotion adds receiving transceivers by renegotiation; demotion unpublishes."""
        self.role = role
        self.notify(notices.role_changed(role))
        if self.can_publish and not self.published:
            self._want_publish = True
            self.renegotiate()
        elif not self.can_publish:
            self.unpublish()

    # --- renegotiation over the data channel ------------------------------

    def renegotiate(self) -> None:
        """Schedule a node-driven offer; coalesces while one is in flight."""
        if self.closed or (self._renegotiation and not self._renegotiation.done()):
            return
        self._renegotiation = asyncio.ensure_future(self._renegotiate())

    async def _renegotiate(self) -> None:
        while not self.closed and (self._pending or self._want_publish or self._released):
            if self._channel is None or self._channel.readyState != "open" \
                    or self.pc.signalingState != "stable":
                return  # retried when the channel opens; never without one (WHEP)
            self._released = False
            for source in list(self._pending):
                self._pending.remove(source)
                if source.closed or self._reuse(source) or \
                        self._attach(source, renegotiate=True):
                    continue
                self.pc.addTransceiver(source.kind, direction="sendonly")
                if not self._attach(source, renegotiate=True):
                    logger.warning("session %s cannot carry %s", self.id, source.mime_type)
            if self._want_publish:
                self._want_publish = False
                for kind in ("audio", "video"):
                    if self.room.allows(kind):
                        self.pc.addTransceiver(kind, direction="recvonly")
            try:
                offer = await self.pc.createOffer()
                negotiated = self.pc.remoteDescription.sdp
                await self.pc.setLocalDescription(RTCSessionDescription(sdp=align_payload_types(
                    align_extmap(offer.sdp, negotiated), negotiated), type="offer"))
                self._answer = asyncio.get_running_loop().create_future()
                self.notify(notices.tracks(self.tracks()))
                self.notify(notices.offer(self.pc.localDescription.sdp))
                sdp = await asyncio.wait_for(self._answer, ANSWER_TIMEOUT)
                await self.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=self._filter(sdp), type="answer"))
                for slot, source in self._starting:
                    self._write(slot, source)
                self._starting.clear()
            except Exception as exc:
                logger.warning("session %s: renegotiation failed: %s", self.id, exc)
                self._end("renegotiation_failed")
                return

    def _on_datachannel(self, channel) -> None:
        if channel.label != "signaling":
            return
        self._channel = channel
        channel.on("message", self._on_message)
        if channel.readyState == "open":
            self._on_channel_open()
        else:
            channel.on("open", self._on_channel_open)

    def _on_channel_open(self) -> None:
        self.notify(notices.tracks(self.tracks()))  # what the answer's m-lines carry
        self.renegotiate()

    def _on_message(self, message) -> None:
        try:
            data = json.loads(message)
        except (TypeError, ValueError):
            return
        if data.get("type") == "answer" and self._answer and not self._answer.done():
            self._answer.set_result(str(data.get("sdp", "")))

    def notify(self, message: dict) -> None:
        """Send a JSON notice on the signaling channel, if it is open."""
        if self._channel is not None and self._channel.readyState == "open":
            self._channel.send(json.dumps(message))

    # --- lifetime ---------------------------------------------------------

    def _on_state(self) -> None:
        if self.pc.connectionState == "connected":
            enlarge_socket_buffers(self.pc)
        if self.pc.connectionState in ("failed", "closed"):
            self._end(f"connection_{self.pc.connectionState}")

    def _end(self, reason: str) -> None:
        if not self.closed:
            self._on_end(self, reason)

    async def close(self) -> None:
        """Stop forwarding to and from this session and close the peer connection."""
        if self.closed:
            return
        self.closed = True
        if self._renegotiation and not self._renegotiation.done():
            self._renegotiation.cancel()
        self._reports.close()
        self.unpublish()
        for source, sink in list(self.forwarded.items()):
            logger.info("session %s: %s of %s: %d frames forwarded, %d skipped", self.id,
                        source.kind, source.publisher_id, sink.frames_out, sink.frames_dropped)
            source.unsubscribe(sink)
        self.forwarded.clear()
        await self.pc.close()
