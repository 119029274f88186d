"""A track's RTP frames, as the node receives them, become a file in the bucket while
they come: VP8 into WebM, Opus into WebM, H.264 into Matroska (the local twin bucket)."""
from __future__ import annotations

import asyncio
import fractions
import os
import resource
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import av
import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder

from media_node.recording import track_writer
from media_node.recording.frames import Frame
from media_node.recording.remux import IO_BUFFER, Revision, Spool, SpooledFile
from media_node.recording.track_writer import TrackWriter
from media_node.storage.errors import VerificationFailed
from media_node.storage.local import LocalDirectoryUploader
from tests.recording_checks import check_file

SECONDS = 6


class Track:
    """The parts of a PublishedTrack a writer uses."""

    def __init__(self, kind: str, mime_type: str) -> None:
        self.kind, self.mime_type, self.publisher_id = kind, mime_type, "p1"
        self.taps: set = set()
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1


def rtp_frames(codec_name: str, seconds: int, muted: tuple[float, float] | None = None):
    """``(timestamp, [(seq, marker, payload)], keyframe)`` per frame, as RtpIngest gives
    them; frames in the ``muted`` span are not delivered (the node drops them)."""
    if codec_name == "opus":
        codec = av.CodecContext.create("libopus", "w")
        codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
        codec.time_base = fractions.Fraction(1, 48000)
        packer, rate, step = OpusEncoder(), 50, 960
    else:
        codec = av.CodecContext.create({"vp8": "libvpx", "h264": "libx264"}[codec_name], "w")
        codec.width, codec.height, codec.pix_fmt = 160, 120, "yuv420p"
        codec.time_base, codec.framerate, codec.thread_count = fractions.Fraction(1, 30), 30, 1
        codec.gop_size = 60
        if codec_name == "h264":
            codec.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline"}
        packer, rate, step = (Vp8Encoder() if codec_name == "vp8" else H264Encoder()), 30, 3000
    seq = 1000
    for index in range(seconds * rate):
        if codec_name == "opus":
            frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
            frame.sample_rate = 48000
            frame.planes[0].update(bytes((index * k) % 251 for k in range(3840)))
        else:
            frame = av.VideoFrame(160, 120, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes((index + x) % 256 for x in range(plane.buffer_size)))
        frame.pts = index * (960 if codec_name == "opus" else 1)
        resume = muted and index / rate >= muted[1] and (index - 1) / rate < muted[1]
        if resume and codec_name != "opus":
            frame.pict_type = av.video.frame.PictureType.I  # the node asks for one on unmute
        for packet in codec.encode(frame):
            packet.pts = index * step
            packet.time_base = fractions.Fraction(1, 90000 if step == 3000 else 48000)
            payloads, timestamp = packer.pack(packet)
            packets = []
            for i, payload in enumerate(payloads):
                packets.append((seq & 0xFFFF, 0x80 if i == len(payloads) - 1 else 0, payload))
                seq += 1
            if muted and muted[0] <= index / rate < muted[1]:
                continue
            yield (timestamp + 0x7FFFF000) & 0xFFFFFFFF, packets, bool(packet.is_keyframe)


def quick_writers(tmp_path, monkeypatch):
    """Batches every 50 ms, a 1 KiB tail, 4 KiB parts into a local twin bucket: the
    bucket's folder, the spool's, and the uploader."""
    monkeypatch.setattr(track_writer, "FLUSH_INTERVAL", 0.05)
    monkeypatch.setattr(track_writer, "TAIL_KEPT", 1024)
    bucket, spool = tmp_path / "bucket", tmp_path / "spool"
    bucket.mkdir()
    spool.mkdir()
    return bucket, spool, LocalDirectoryUploader(bucket, "rec", part_size=4096)


async def recording_writer(source: Track, spool, uploader, pool, seq: int) -> TrackWriter:
    """A writer of ``source``'s track, started and streaming to ``uploader``."""
    kind = source.kind
    writer = TrackWriter(source, f"r1/p1/{kind}-01", str(spool), pool, lambda: seq,
                         lambda w: None)
    writer.start()
    writer.attach(await uploader.open(writer.name, writer.file.content_type))
    return writer


@pytest.mark.parametrize("codec_name,kind,probe_name", [
    ("vp8", "video", "vp8"), ("opus", "audio", "opus"), ("h264", "video", "h264")])
def test_frames_become_a_file_that_streams_while_recording(tmp_path, monkeypatch, codec_name,
                                                           kind, probe_name):
    bucket, spool, uploader = quick_writers(tmp_path, monkeypatch)
    mime = {"vp8": "video/VP8", "opus": "audio/opus", "h264": "video/H264"}[codec_name]
    source = Track(kind, mime)
    # with a pause in the middle, as a mute gives: the timeline keeps it
    frames = list(rtp_frames(codec_name, SECONDS, muted=(2.0, 3.0)))

    writes = []  # each batch muxed: (the file was open, on the loop's thread)

    async def scenario():
        pool = ThreadPoolExecutor(1)
        writer = await recording_writer(source, spool, uploader, pool, 7)
        write = writer.file.write

        def noted(batch):
            writes.append((writer.file.opened, threading.current_thread() is loop_thread))
            write(batch)
        writer.file.write = noted
        for i, (timestamp, packets, keyframe) in enumerate(frames):
            writer.on_frame((timestamp, packets, keyframe, time.time()))
            if i % 20 == 0:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        parts_while_recording = len(writer.upload.parts)
        spool_while_recording = (writer.file._spool.buffered, list(writer.file._spool.revisions))
        await writer.finish()
        pool.shutdown()
        return writer, parts_while_recording, spool_while_recording

    loop_thread = threading.current_thread()
    writer, parts_while_recording, spool_while_recording = asyncio.run(scenario())
    assert writer.error is None and writer.stored is not None
    assert parts_while_recording >= 1, "parts went out before the stop"
    # opened in the pool, then muxed on the loop batch after batch, closed in the pool
    assert writes[0] == (False, False) and writes[-1] == (True, False)
    assert len(writes) >= 4 and all(w == (True, True) for w in writes[1:-1])
    assert spool_while_recording == (True, []), "nothing revised, nothing written on the loop"
    entry = writer.manifest_entry()
    assert entry["uri"].endswith(f"rec/r1/p1/{kind}-01.{writer.file.format.replace('matroska', 'mkv')}")
    assert (entry["kind"], entry["codecs"], entry["participantId"]) == (kind, [codec_name], "p1")
    assert entry["startSeq"] == entry["endSeq"] == 7
    path = bucket / "rec" / writer.name
    check_file(path, entry, probe_name, SECONDS)
    assert list(spool.iterdir()) == [], "no local copy after a confirmed upload"
    # the muxer revised only the header (duration, cues' place), never a part sent
    assert writer.file._spool.revisions, "the header's final values are written at close"
    assert all(r.end <= 4096 for r in writer.file._spool.revisions)


def test_spool_knows_which_writes_revise_what_was_sent(tmp_path):
    spool = Spool(str(tmp_path / "f"))
    spool.write(b"a" * 100)
    spool.handed = 100
    spool.seek(10)
    spool.write(b"b" * 5)  # within the held-back head
    assert spool.revisions == [Revision(10, 15, 100)]
    assert spool.sent_part_revised(head_size=20) is None
    assert spool.sent_part_revised(head_size=12) == Revision(10, 15, 100)
    spool.seek(0, 2)
    spool.write(b"c" * 10)
    spool.seek(95)  # the last 5 handed and 5 not yet: a revision of a sent part
    spool.write(b"d" * 10)
    spool.close()
    assert spool.sent_part_revised(head_size=20) == Revision(95, 105, 100)
    assert (tmp_path / "f").read_bytes() == b"a" * 10 + b"b" * 5 + b"a" * 80 + b"d" * 10 + b"c" * 5


def test_the_spool_holds_appends_in_memory_until_flushed_and_writes_a_revision_through(
        tmp_path):
    path = tmp_path / "f"
    spool = Spool(str(path))
    for chunk in (b"a" * 10, b"b" * 20, b"c" * 5):
        assert spool.write(chunk) == len(chunk)
    assert (spool.size, spool.tell(), spool.on_disk, path.stat().st_size) == (35, 35, 0, 0)
    assert spool.read(0, 100) == b"", "only what is on the disk is read back"
    spool.flush()
    assert (spool.on_disk, path.read_bytes()) == (35, b"a" * 10 + b"b" * 20 + b"c" * 5)
    assert spool.read(5, 10) == b"a" * 5 + b"b" * 5 and spool.read(30, 100) == b"c" * 5
    spool.write(b"d" * 4)  # held again
    assert spool.seek(0, 2) == 39 and spool.seek(-4, 1) == 35 and spool.on_disk == 35
    spool.seek(2)
    spool.write(b"e" * 3)  # a revision: what is held goes to the disk first, then it
    assert not spool.buffered and spool.revisions == [Revision(2, 5, 0)]
    spool.seek(0, 2)
    spool.write(b"f")  # from now on, straight to the disk
    assert spool.on_disk == spool.size == 40
    assert path.read_bytes() == b"aa" + b"e" * 3 + b"a" * 5 + b"b" * 20 + b"c" * 5 + b"d" * 4 + b"f"
    spool.close()
    assert spool.read(38, 10) == b"df", "read from the path once closed"


def test_a_disk_that_fails_a_flush_keeps_what_was_held_for_the_next_one(tmp_path, monkeypatch):
    spool = Spool(str(tmp_path / "f"))
    spool.write(b"x" * 8)
    spool.write(b"y" * 8)
    real = os.pwrite
    calls = []

    def failing(fd, data, offset):
        calls.append(offset)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(fd, data, offset)
    monkeypatch.setattr(os, "pwrite", failing)
    with pytest.raises(OSError, match="No space"):
        spool.flush()
    assert spool.on_disk == 8
    spool.flush()
    spool.close()
    assert calls == [0, 8, 8] and (tmp_path / "f").read_bytes() == b"x" * 8 + b"y" * 8


def test_a_revised_sent_part_fails_verification_and_keeps_the_spool(tmp_path, monkeypatch):
    """Were the muxer ever to rewrite a part already sent, the object would differ from
    the file: the upload is aborted, the spool kept, the failure named."""
    bucket, spool, uploader = quick_writers(tmp_path, monkeypatch)
    frames = list(rtp_frames("vp8", 3))

    async def scenario():
        pool = ThreadPoolExecutor(1)
        writer = await recording_writer(Track("video", "video/VP8"), spool, uploader, pool, 1)
        for i, (timestamp, packets, keyframe) in enumerate(frames):
            writer.on_frame((timestamp, packets, keyframe, time.time()))
            if i % 20 == 0:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        sent = writer.file._spool.handed
        assert sent > 3 * 4096, "several parts were sent"
        writer.file._spool.revisions.append(Revision(2 * 4096, 2 * 4096 + 8, sent))
        await writer.finish()
        pool.shutdown()
        return writer

    writer = asyncio.run(scenario())
    assert writer.stored is None and isinstance(writer.error, VerificationFailed)
    assert "changed after they were sent" in writer.error.message
    assert len(writer.sha256) == 64, "the kept file's sha256 is still known"
    assert (spool / writer.name.replace("/", "_")).exists(), "the spool stays"
    assert not list(bucket.rglob("*.webm")), "no object was made"


def test_a_vp8_file_from_the_template_is_the_file_an_opened_encoder_gives(tmp_path):
    """The spool's VP8 stream is made from a template, so libvpx's encoder is never
    opened for it: the file is the one the opened encoder's stream gave, byte for byte,
    but for the random track UID."""
    key = bytes([0, 0, 0, 0x9D, 0x01, 0x2A]) + (320).to_bytes(2, "little") + \
        (240).to_bytes(2, "little") + bytes(range(256)) * 4  # a keyframe's header: 320x240
    frames = [Frame(i * 3000, key if i % 30 == 0 else b"\x31" + bytes([i]) * 900,
                    i % 30 == 0) for i in range(90)]
    spooled = SpooledFile(str(tmp_path / "template.webm"), "vp8", 90000)
    spooled.write(frames)
    spooled.close()
    time_base = fractions.Fraction(1, 90000)
    spool = Spool(str(tmp_path / "encoder.webm"))  # as the writer's, but an encoder's stream
    with av.open(spool, "w", format="webm", options={"flush_packets": "1"},
                 container_options={"cluster_time_limit": "1000"},
                 buffer_size=IO_BUFFER) as reference:
        stream = reference.add_stream("vp8", rate=30)
        stream.width, stream.height, stream.codec_context.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.thread_count, stream.time_base = 1, time_base
        for frame in frames:
            packet = av.Packet(frame.data)
            packet.pts = packet.dts = frame.pts
            packet.time_base, packet.is_keyframe, packet.stream = time_base, frame.keyframe, stream
            reference.mux(packet)
    spool.close()

    def without_track_uid(data: bytes) -> bytes:
        at = data.index(b"\x73\xc5\x88") + 3  # TrackUID: 8 random bytes, also in Tags
        return data.replace(data[at:at + 8], bytes(8))

    made = (tmp_path / "template.webm").read_bytes()
    assert without_track_uid(made) == without_track_uid((tmp_path / "encoder.webm").read_bytes())
    with av.open(str(tmp_path / "template.webm")) as probe:
        video = probe.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("vp8", 320, 240)
        assert sum(1 for _ in probe.demux(video)) >= 90


def test_a_stop_while_a_batch_is_muxed_still_closes_and_uploads_the_file(tmp_path, monkeypatch):
    """finish() during the clock's batch waits for it, then muxes the last frames and
    closes the file (the pump it replaced could leave the file unclosed then)."""
    bucket, spool, uploader = quick_writers(tmp_path, monkeypatch)
    frames = list(rtp_frames("opus", 2))
    gate = threading.Event()

    async def scenario():
        pool = ThreadPoolExecutor(1)
        writer = await recording_writer(Track("audio", "audio/opus"), spool, uploader, pool, 3)
        for timestamp, packets, keyframe in frames[:50]:
            writer.on_frame((timestamp, packets, keyframe, time.time()))
        pool.submit(gate.wait, 5)  # the pool is busy: the clock's batch waits behind it
        while writer.in_flight is None:
            await asyncio.sleep(0.01)
        for timestamp, packets, keyframe in frames[50:]:
            writer.on_frame((timestamp, packets, keyframe, time.time()))
        finishing = asyncio.ensure_future(writer.finish())
        await asyncio.sleep(0.1)
        assert not finishing.done(), "finish waits for the batch in flight"
        gate.set()
        await finishing
        pool.shutdown()
        return writer

    writer = asyncio.run(scenario())
    assert writer.error is None and writer.stored is not None
    check_file(bucket / "rec" / writer.name, writer.manifest_entry(), "opus", 2)


def test_a_file_the_node_cannot_write_fails_that_file_keeps_its_spool_and_sends_nothing_more(
        tmp_path, monkeypatch):
    """A real write error (the file size limit: EFBIG, as a full disk gives ENOSPC) in
    the clock's batch fails the file as ``recording_failed``; nothing more is muxed (what
    the disk refused is not added to in memory), the upload is aborted and the spool
    stays."""
    bucket, spool, uploader = quick_writers(tmp_path, monkeypatch)
    frames = list(rtp_frames("vp8", 6))
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill

    async def scenario():
        pool = ThreadPoolExecutor(1)
        writer = await recording_writer(Track("video", "video/VP8"), spool, uploader, pool, 1)
        for timestamp, packets, keyframe in frames[:30]:
            writer.on_frame((timestamp, packets, keyframe, time.time()))
        while writer.file.frames == 0:
            await asyncio.sleep(0.01)
        written = writer.file._spool.size
        resource.setrlimit(resource.RLIMIT_FSIZE, (written + 1024, limit[1]))
        rest = frames[30:]
        try:
            while writer.error is None:  # frames come until the disk refuses
                for timestamp, packets, keyframe in rest[:10]:
                    writer.on_frame((timestamp, packets, keyframe, time.time()))
                del rest[:10]
                await asyncio.sleep(0.06)
            held, muxed = sum(map(len, writer.file._spool._held)), writer.file.frames
            for i, (timestamp, packets, keyframe) in enumerate(rest):  # and go on coming
                writer.on_frame((timestamp, packets, keyframe, time.time()))
                if i % 10 == 0:
                    await asyncio.sleep(0.06)
            await asyncio.sleep(0.2)
            after = (sum(map(len, writer.file._spool._held)), writer.file.frames)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        await writer.finish()
        pool.shutdown()
        return writer, len(rest), (held, muxed), after

    try:
        writer, came_after, at_failure, after = asyncio.run(scenario())
    finally:
        signal.signal(signal.SIGXFSZ, previous)
    assert came_after >= 60 and at_failure[0] > 0
    assert after == at_failure, "nothing more muxed into memory once the file failed"
    assert writer.stored is None and writer.error.reason == "recording_failed"
    assert "File too large" in writer.error.message
    assert (spool / writer.name.replace("/", "_")).exists(), "the spool stays"
    assert not list(bucket.rglob("*.webm")), "no object was made"
    assert writer.upload.settled, "the upload was aborted"


def test_the_tap_queues_without_a_call_of_ours_and_a_stalled_muxer_bounds_the_queue(tmp_path):
    """The tap is the queue's own append; while a batch is still muxed at a tick, what
    waits beyond MAX_QUEUED frames loses its oldest half, and the newest stay."""
    writer = TrackWriter(Track("audio", "audio/opus"), "r1/p1/audio-01", str(tmp_path),
                         ThreadPoolExecutor(1), lambda: 1, lambda w: None)
    assert type(writer.on_frame).__name__ == "builtin_function_or_method"
    total = track_writer.MAX_QUEUED + 10
    for n in range(total):
        writer.on_frame((n * 960, [(n, 0x80, b"\xfc\x01")], False, float(n)))
    writer.waiting()
    fn, (batch, final) = writer.take_batch()
    assert fn == writer._mux and not final
    assert len(batch) <= track_writer.MAX_QUEUED and batch[-1][0] == (total - 1) * 960
    writer.on_frame((total * 960, [(total, 0x80, b"\xfc\x01")], False, float(total)))
    assert writer.take_batch()[1][0] == [(total * 960, [(total, 0x80, b"\xfc\x01")], False,
                                         float(total))], "the tap still feeds the queue"
