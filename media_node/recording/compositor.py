"""The compositor: decodes every speaker, lays out a grid, mixes, encodes one MP4.

It runs in a process of its own (:func:`run`), fed by the node's event loop through a
bounded queue (:mod:`.composite`), so that decoding and encoding never share the loop's
interpreter. Everything it does follows the messages' own clock: each frame carries its
arrival time on the node (``time.monotonic``, one clock for every process of the
machine), and a track's RTP timestamps are anchored to it by the smallest
``arrival - rtp time`` seen (the least delayed frame), so a speaker's audio and video
keep the timing their source gave them. Output time ``t`` is rendered once the node's
clock has passed ``t + latency``; a slow compositor falls behind, it never changes the
file.

The file is fragmented MP4 (H.264 + AAC, or AAC alone for an audio-only room): it only
grows, so it streams to the bucket while recording. Its streams are chosen when the
recording starts, from the room's policy, not from what is published then, so a camera
turned on later is in the picture.
"""
from __future__ import annotations

import fractions
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field

import av
from av.video.reformatter import VideoReformatter

from .canvas import Canvas
from .frames import FrameAssembler
from .layout import fit, grid
from .mixer import RATE, Mixer

logger = logging.getLogger(__name__)
DECODERS = {"vp8": "vp8", "h264": "h264", "opus": "opus"}


@dataclass(frozen=True)
class CompositeSettings:
    """What the composite looks like and what it may use.

    :param width: the picture's width (even).
    :param height: the picture's height (even).
    :param fps: output frames per second, steady.
    :param threads: threads of every decoder and of the encoder.
    :param preset: libx264's preset.
    :param latency: seconds the output lags the node's clock (frames arriving later
        than that, after a stall of the node's loop, are late: shown late, or their sound
        cut); what waits meanwhile is still encoded, decoded only when rendered.
    """

    width: int = 640
    height: int = 480
    fps: int = 30
    threads: int = 1
    preset: str = "veryfast"
    latency: float = 2.0


class Picture:
    """A video frame waiting to be shown (``ext`` None: a muted or ended track's mark;
    ``data`` None once decoded)."""

    __slots__ = ("ext", "at", "data", "frame", "scaled")

    def __init__(self, ext: int | None, at: float, data: bytes | None) -> None:
        self.ext, self.at, self.data = ext, at, data
        self.frame: av.VideoFrame | None = None  # once decoded
        self.scaled: av.VideoFrame | None = None  # the frame at its tile's size


@dataclass
class Track:
    """One published track as the compositor sees it."""

    participant: str
    kind: str
    assembler: FrameAssembler
    decoder: av.CodecContext
    added_at: float
    ended_at: float | None = None
    anchor: float | None = None  # node clock of RTP time 0: min(arrival - rtp seconds)
    items: deque = field(default_factory=deque)  # Picture s, or audio's [ext, encoded]
    last: av.VideoFrame | None = None  # video: the last picture decoded
    asked_keyframe: float = -1e9
    frames: int = 0  # whole frames received
    resampler: av.AudioResampler | None = None  # audio: to the mix's s16 stereo 48 kHz
    scaler: VideoReformatter = field(default_factory=VideoReformatter)  # video: to its tile

    def at(self, ext: int) -> float:
        """Node-clock time of RTP timestamp ``ext`` (unwrapped from the first frame)."""
        return self.anchor + ext / self.assembler.clock_rate

    def live(self, t: float) -> bool:
        return self.added_at <= t and (self.ended_at is None or t < self.ended_at)


class Compositor:
    """Turns the node's messages into the MP4 at ``path`` (blocking; in its process).

    :param path: the spool file.
    :param t0: the node-clock time of the output's first instant.
    :param settings: size, rate, threads.
    :param video: whether the file has a picture (false: an audio-only room, AAC alone).
    :param ask_keyframe: called with a track id whose publisher should send a keyframe.
    """

    def __init__(self, path: str, t0: float, settings: CompositeSettings,
                 video: bool = True, ask_keyframe=lambda tid: None) -> None:
        self.path, self.t0, self.s = path, t0, settings
        self.has_video = video
        self._ask_keyframe = ask_keyframe
        self.tracks: dict[int, Track] = {}
        self.order: dict[str, int] = {}  # participant -> place on the stage (first publish)
        self.now = t0
        self.container = None
        self.video = self.audio = None
        self.canvas = Canvas(settings.width, settings.height)
        self.mixer = Mixer()
        self.frames_out = 0
        self.decode_errors = 0
        self._started_cpu = time.process_time()  # the process's start-up is not the work

    # -- input -------------------------------------------------------------------------
    def track(self, at: float, tid: int, participant: str, kind: str, codec: str) -> None:
        decoder = av.CodecContext.create(DECODERS[codec], "r")
        decoder.thread_count = self.s.threads
        self.tracks[tid] = Track(participant, kind, FrameAssembler(codec), decoder, at)
        if kind == "audio":
            self.tracks[tid].resampler = av.AudioResampler(format="s16", layout="stereo",
                                                           rate=RATE)
        self.order.setdefault(participant, len(self.order))

    def frame(self, at: float, tid: int, timestamp: int, packets: list, keyframe: bool) -> None:
        track = self.tracks.get(tid)
        if track is None or track.ended_at is not None:
            return
        got = track.assembler.push(timestamp, packets, keyframe)
        if got is not None:  # decoded when rendered: only encoded frames wait
            track.frames += 1
            offset = at - got.pts / track.assembler.clock_rate
            track.anchor = offset if track.anchor is None else min(track.anchor, offset)
            track.items.append(Picture(got.pts, at, got.data) if track.kind == "video"
                               else [got.pts, got.data])
        self._keyframe_if_needed(tid, track)

    def _keyframe_if_needed(self, tid: int, track: Track) -> None:
        if track.assembler.needs_keyframe and self.now - track.asked_keyframe > 0.3:
            track.asked_keyframe = self.now
            self._ask_keyframe(tid)

    def _decode(self, track: Track, data: bytes) -> list:
        try:
            return track.decoder.decode(av.Packet(data))
        except av.FFmpegError:
            self.decode_errors += 1
            track.assembler.needs_keyframe = track.kind == "video"
            return []

    def muted(self, at: float, tid: int, muted: bool) -> None:
        track = self.tracks.get(tid)
        if track is not None and muted and track.kind == "video":
            track.items.append(Picture(None, at, None))

    def ended(self, at: float, tid: int) -> None:
        track = self.tracks.get(tid)
        if track is not None and track.ended_at is None:
            track.ended_at = at
            if track.kind == "video":
                track.items.append(Picture(None, at, None))

    # -- output ------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """The node's clock reached ``now``: render what can no longer change."""
        self.now = max(self.now, now)
        self._render(self.now - self.s.latency)
        for tid, track in self.tracks.items():
            self._keyframe_if_needed(tid, track)

    def stop(self, at: float) -> dict:
        """Render up to ``at``, close the file; what it holds."""
        self._render(at, final=True)
        if self.container is None:
            self._open()
        if self.video is not None:
            self._mux(self.video, None)
        self._mux(self.audio, None)
        self.container.close()
        seconds = self.mixer.start / RATE
        return {"durationSeconds": round(seconds, 3), "videoFrames": self.frames_out,
                "codecs": ["h264", "aac"] if self.video is not None else ["aac"],
                "lateSamples": self.mixer.late, "decodeErrors": self.decode_errors,
                "cpuSeconds": round(time.process_time() - self._started_cpu, 3),
                "startupCpuSeconds": round(self._started_cpu, 3),
                "tracks": [{"participantId": t.participant, "kind": t.kind, "frames": t.frames,
                            "anchor": t.anchor and round(t.anchor - self.t0, 3)}
                           for t in self.tracks.values()]}

    def _open(self) -> None:
        self.container = av.open(self.path, "w", format="mp4", options={"flush_packets": "1"},
                                 container_options={
                                     "movflags": "empty_moov+default_base_moof+frag_keyframe",
                                     "frag_duration": "1000000"})
        if self.has_video:
            video = self.container.add_stream("libx264", rate=self.s.fps)
            video.width, video.height, video.pix_fmt = self.s.width, self.s.height, "yuv420p"
            video.codec_context.thread_count = self.s.threads
            video.codec_context.gop_size = self.s.fps * 2
            video.codec_context.options = {"preset": self.s.preset, "tune": "zerolatency"}
            self.video = video
        audio = self.container.add_stream("aac", rate=RATE)
        audio.codec_context.layout = "stereo"
        audio.codec_context.bit_rate = 128_000
        audio.codec_context.thread_count = self.s.threads
        self.audio = audio

    def _render(self, until: float, final: bool = False) -> None:
        if self.container is None:
            if not final and until < self.t0:
                return
            self._open()
        end = (until - self.t0) * RATE
        samples = math.ceil(end) if final else int(end)
        if self.video is None:  # an audio-only room's file: no picture is ever kept
            for track in self.tracks.values():
                if track.kind == "video":
                    track.items.clear()
        else:
            while self.t0 + self.frames_out / self.s.fps < until:
                self._video_frame(self.t0 + self.frames_out / self.s.fps)
                self.frames_out += 1
            if final:  # the audio ends with the last frame's duration
                samples = max(samples, round(self.frames_out * RATE / self.s.fps))
        if samples > self.mixer.start:
            self._mix(samples)

    def _video_frame(self, t: float) -> None:
        half = 0.5 / self.s.fps  # each output frame shows the source frame nearest to it
        on_stage = sorted({tr.participant for tr in self.tracks.values() if tr.live(t)},
                          key=self.order.__getitem__)
        self.canvas.clear()
        for participant, cell in zip(on_stage, grid(len(on_stage), self.s.width,
                                                    self.s.height)):
            shown, track = None, None
            for candidate in self.tracks.values():
                if candidate.participant == participant and candidate.kind == "video" \
                        and candidate.live(t) and candidate.anchor is not None:
                    shown, track = self._current(candidate, t + half), candidate
            if shown is None:
                self.canvas.placeholder(cell, participant)
                continue
            rect = fit(shown.frame.width, shown.frame.height, cell)
            if shown.scaled is None or (shown.scaled.width, shown.scaled.height) != rect[2:]:
                # the track's own scaler keeps its context from frame to frame
                shown.scaled = track.scaler.reformat(shown.frame, rect.w, rect.h, "yuv420p",
                                                     interpolation="AREA")
            self.canvas.paste(rect, shown.scaled)
        frame = self.canvas.frame()
        frame.pts = self.frames_out
        frame.time_base = fractions.Fraction(1, self.s.fps)
        self._mux(self.video, frame)

    def _current(self, track: Track, t: float) -> Picture | None:
        """The picture showing at ``t`` (the last one due), or None: nothing due yet, or
        a muted or ended track. Every frame passed over is decoded, in order."""
        def when(item: Picture) -> float:
            return item.at if item.ext is None else track.at(item.ext)

        items = track.items
        while len(items) > 1 and when(items[1]) <= t:
            self._decode_picture(track, items.popleft())
        if not items or when(items[0]) > t:
            return None
        self._decode_picture(track, items[0])
        return items[0] if items[0].frame is not None else None

    def _decode_picture(self, track: Track, item: Picture) -> None:
        if item.ext is None:  # a mute or an end: what follows starts afresh
            track.last = None
        elif item.data is not None:
            decoded = self._decode(track, item.data)
            item.data = None
            track.last = decoded[-1] if decoded else track.last  # a lost frame: the last
            item.frame = track.last

    def _mix(self, upto: int) -> None:
        for track in self.tracks.values():
            if track.kind != "audio" or track.anchor is None:
                continue
            while track.items:
                position = round((track.at(track.items[0][0]) - self.t0) * RATE)
                if position >= upto:
                    break
                for out in self._decode(track, track.items.popleft()[1]):
                    for pcm in track.resampler.resample(out):
                        self.mixer.add(position, bytes(pcm.planes[0])[:pcm.samples * 4])
                        position += pcm.samples
        start = self.mixer.start
        pcm = self.mixer.take(upto)
        frame = av.AudioFrame(format="s16", layout="stereo", samples=len(pcm) // 4)
        frame.sample_rate = RATE
        frame.planes[0].update(pcm)
        frame.pts = start
        frame.time_base = fractions.Fraction(1, RATE)
        self._mux(self.audio, frame)

    def _mux(self, stream, frame) -> None:
        for packet in stream.encode(frame):
            self.container.mux(packet)


def run(inbox, outbox, path: str, t0: float, settings: CompositeSettings,
        video: bool = True) -> None:
    """The compositor process: messages from ``inbox`` until ``("stop", at)``; the file
    has a picture unless ``video`` is false.

    ``("batch", now, events)``: events in arrival order, each ``(kind, at, ...)`` for
    :meth:`Compositor.track`, ``frame``, ``muted`` or ``ended``. Sends ``("keyframe",
    tid)`` while it runs, then ``("done", summary)`` or ``("error", message)``.
    """
    try:
        compositor = Compositor(path, t0, settings, video,
                                lambda tid: outbox.put(("keyframe", tid)))
        while True:
            message = inbox.get()
            if message[0] == "stop":
                outbox.put(("done", compositor.stop(message[1])))
                return
            _, now, events = message
            for kind, *args in events:
                getattr(compositor, kind)(*args)
            compositor.advance(now)
    except Exception as exc:  # the node reports it; the process ends
        logger.exception("compositor failed")
        outbox.put(("error", f"{type(exc).__name__}: {exc}"))

