"""Forward encoded frames from one publisher's track to many subscribers.

On the direct path, :class:`~media_node.sfu.ingest.RtpIngest` hands each frame's RTP
payloads to :class:`PublishedTrack`, which writes them to every
:class:`~media_node.sfu.fanout.RtpWriter`: nothing is depacketized or packetized again.
For the pack path the receiver is also hooked after its jitter buffer:
:class:`EncodedFrameTap` stands in for the decoder queue, so complete encoded frames
reach :class:`PublishedTrack` on the event loop and are never decoded. Each such
subscriber reads a :class:`ForwardedTrack`, whose ``recv()`` returns
:class:`av.Packet`; aiortc's sender then only packetizes.
"""
from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import threading
import time
from typing import Callable, Protocol

import av
from aiortc import MediaStreamTrack, RTCRtpReceiver, clock
from aiortc.mediastreams import MediaStreamError

from ..counters import COUNTERS
from ..internals import aiortc_internals
from .fanout import RtpWriter
from .ingest import RtpIngest, RtpPayload
from .keyframes import is_keyframe, rtp_frame_is_keyframe

logger = logging.getLogger(__name__)

PLI_INTERVAL = 0.3  # seconds between keyframe requests to one publisher
MAX_QUEUED_FRAMES = {"audio": 25, "video": 30}  # about 0.5-1 s per subscriber


class EncodedFrameTap:
    """Replaces an ``RTCRtpReceiver``'s decoder queue.

    ``put`` runs on the event loop (from ``_handle_rtp_packet``) and hands each
    complete frame to ``on_frame``; the idle decoder thread blocks in ``get`` until
    the receiver stops.
    """

    def __init__(self, on_frame: Callable[[object, object], None]) -> None:
        self._on_frame = on_frame
        self._stopped = threading.Event()

    def put(self, item) -> None:
        if item is None:
            self._stopped.set()
            return
        codec, jitter_frame = item
        self._on_frame(codec, jitter_frame)

    def get(self):
        self._stopped.wait()
        return None


def attach_tap(receiver: RTCRtpReceiver, on_frame: Callable[[object, object], None]) -> None:
    """Make ``receiver`` hand out encoded frames instead of decoding them.

    Must run before the receiver starts (the ``track`` event is early enough).
    """
    aiortc_internals.replace_decoder_queue(receiver, EncodedFrameTap(on_frame))


def to_packet(codec, jitter_frame) -> tuple[av.Packet, bool]:
    """Wrap a reassembled frame as an ``av.Packet`` the sender can pack."""
    data = jitter_frame.data
    packet = av.Packet(data)
    packet.pts = jitter_frame.timestamp
    packet.time_base = fractions.Fraction(1, codec.clockRate)
    return packet, is_keyframe(codec.name, data)


# what a tap is handed per frame: (RTP timestamp, the RTP payloads as they came,
# keyframe, arrival as time.time()), made once for every tap of the track
TappedFrame = tuple[int, list[RtpPayload], bool, float]


class FrameTap(Protocol):
    """Something besides the subscribers that sees a track's frames (a recorder)."""

    def on_frame(self, frame: TappedFrame) -> None:
        """One frame, on the loop: must not block. Any callable of one argument will do
        (a per-track writer's is its queue's ``list.append``: no Python call a frame)."""

    def on_close(self) -> None:
        """The track ended (its publisher left, was demoted or kicked)."""


class PublishedTrack:
    """One publisher's track, fanned out to its subscribers.

    Subscribers are either :class:`ForwardedTrack` s read by aiortc's sender (the
    "pack" path) or :class:`~media_node.sfu.fanout.RtpWriter` s that receive the
    publisher's RTP payloads as they came (the lean "direct" path).

    :param kind: ``audio`` or ``video``.
    :param publisher_id: participant id of the publisher.
    :param receiver: the publisher's receiver (for PLI).
    :param mime_type: negotiated codec, e.g. ``video/VP8``.
    """

    def __init__(self, kind: str, publisher_id: str, receiver: RTCRtpReceiver, mime_type: str):
        self.kind = kind
        self.publisher_id = publisher_id
        self.mime_type = mime_type
        self.receiver = receiver
        self.muted = False
        self.closed = False
        self.frames_in = 0
        self.keyframes_in = 0
        self.pli_sent = 0
        self._tracks: set[ForwardedTrack] = set()
        self._writers: set[RtpWriter] = set()
        self.taps: set[FrameTap] = set()
        self._codec_name = mime_type.split("/")[-1]
        self._last_pli = -1e9
        self._pli_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        attach_tap(receiver, self.on_frame)
        self._ingest = RtpIngest(receiver, kind, self.on_rtp_frame, lambda: bool(self._tracks))

    @property
    def subscriber_count(self) -> int:
        """Number of subscribers currently attached."""
        return len(self._tracks) + len(self._writers)

    def on_rtp_frame(self, codec, timestamp: int, packets: list[RtpPayload]) -> None:
        """Called on the loop with every frame's RTP payloads; drained with no subscribers."""
        if self.closed or self.muted:
            return
        self.frames_in += 1
        keyframe = rtp_frame_is_keyframe(self._codec_name, [p[2] for p in packets])
        if keyframe:
            self.keyframes_in += 1
        if self.taps:  # recorders: they only queue the frame
            frame = (timestamp, packets, keyframe, time.time())
            for tap in self.taps:
                tap.on_frame(frame)
        if not self._writers:
            return
        ntp_time = clock.current_ntp_time()
        for writer in self._writers:  # the hot loop: one call per subscriber
            if writer.need_keyframe and not keyframe:
                writer.frames_dropped += 1
                COUNTERS.keyframe_skips += 1
                self.request_keyframe()
            elif writer.write(packets, timestamp, ntp_time):
                writer.need_keyframe = False
            else:  # not connected yet, or its socket backlog is full: skip to a keyframe
                writer.frames_dropped += 1
                COUNTERS.queue_drops += 1
                writer.resync()
                if self.kind == "video":
                    writer.need_keyframe = True
                    self.request_keyframe()

    def on_frame(self, codec, jitter_frame) -> None:
        """Called on the loop with every complete frame while pack-path subscribers exist."""
        if self.closed or self.muted or not self._tracks:
            return
        packet, keyframe = to_packet(codec, jitter_frame)
        for track in self._tracks:
            track.push(packet, keyframe)

    def subscribe(self) -> "ForwardedTrack":
        """Attach a subscriber on aiortc's pack path; video starts at the next keyframe."""
        track = ForwardedTrack(self)
        self._tracks.add(track)
        self.request_keyframe()
        return track

    def add_writer(self, writer: RtpWriter) -> None:
        """Attach a subscriber on the direct path; video starts at the next keyframe."""
        self._writers.add(writer)
        self.request_keyframe()

    def unsubscribe(self, sink: "ForwardedTrack | RtpWriter") -> None:
        """Detach a subscriber of either kind and stop it."""
        self._tracks.discard(sink)
        self._writers.discard(sink)
        sink.stop()

    def set_muted(self, muted: bool) -> None:
        """Stop or resume forwarding; on resume every subscriber waits for a keyframe."""
        if muted == self.muted:
            return
        self.muted = muted
        for writer in self._writers:
            writer.resync()  # the frames skipped while muted leave no gap
        if not muted and self.kind == "video":
            for sink in (*self._tracks, *self._writers):
                sink.need_keyframe = True
            self.request_keyframe()

    def request_keyframe(self) -> None:
        """Relay a keyframe request to the publisher, at most one per ``PLI_INTERVAL``."""
        if self.kind != "video" or self.closed or self._pli_timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_pli + PLI_INTERVAL - loop.time()
        if wait > 0:
            self._pli_timer = loop.call_later(wait, self._send_pli)
        else:
            self._send_pli()

    def _send_pli(self) -> None:
        self._pli_timer = None
        if self.closed:
            return
        ssrc = self._media_ssrc()
        if ssrc is None:  # no packet from the publisher yet: ask again shortly
            self._pli_timer = asyncio.get_running_loop().call_later(0.1, self._send_pli)
            return
        self._last_pli = asyncio.get_running_loop().time()
        self.pli_sent += 1
        COUNTERS.plis_sent += 1
        task = asyncio.ensure_future(aiortc_internals.send_pli(self.receiver, ssrc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _media_ssrc(self) -> int | None:
        rtx = aiortc_internals.receiver_rtx_ssrcs(self.receiver)
        for source in self.receiver.getSynchronizationSources():
            if source.source not in rtx:
                return source.source
        return None

    def close(self) -> None:
        """End every subscriber track and cancel pending work."""
        self.closed = True
        if self._pli_timer is not None:
            self._pli_timer.cancel()
            self._pli_timer = None
        for task in self._tasks:
            task.cancel()
        for sink in (*self._tracks, *self._writers):
            self.unsubscribe(sink)
        for tap in list(self.taps):
            tap.on_close()
        self.taps.clear()


class ForwardedTrack(MediaStreamTrack):
    """A subscriber's view of a :class:`PublishedTrack`: a bounded frame queue.

    When the queue is full the subscriber is too slow: video drops everything
    queued and skips to the next keyframe; audio drops the oldest frames.
    """

    def __init__(self, source: PublishedTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.need_keyframe = source.kind == "video"
        self.frames_out = 0
        self.frames_dropped = 0
        self._max = MAX_QUEUED_FRAMES[source.kind]
        self._frames: collections.deque = collections.deque()
        self._waiter: asyncio.Future | None = None

    def push(self, packet: av.Packet, keyframe: bool) -> None:
        """Queue one frame (on the loop, no await)."""
        if self.need_keyframe:
            if not keyframe:
                self.frames_dropped += 1
                COUNTERS.keyframe_skips += 1
                self.source.request_keyframe()
                return
            self.need_keyframe = False
        if len(self._frames) >= self._max:
            self.frames_dropped += len(self._frames)
            COUNTERS.queue_drops += len(self._frames)
            self._frames.clear()
            if self.kind == "video" and not keyframe:
                self.need_keyframe = True
                self.frames_dropped += 1
                self.source.request_keyframe()
                return
        self._frames.append(packet)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def recv(self) -> av.Packet:
        """Next encoded frame for aiortc's sender (packed, not encoded)."""
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None
        self.frames_out += 1
        return self._frames.popleft()

    def stop(self) -> None:
        super().stop()
        self._frames.clear()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
