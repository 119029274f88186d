"""A slow subscriber's queue stays bounded and skips to the next keyframe."""
from __future__ import annotations

from media_node.sfu.forwarding import MAX_QUEUED_FRAMES, ForwardedTrack


class Source:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1


def test_video_waits_for_a_keyframe_then_skips_to_the_next_one_when_full():
    source = Source("video")
    track = ForwardedTrack(source)
    track.push("delta", keyframe=False)
    assert len(track._frames) == 0 and source.keyframe_requests == 1
    track.push("key", keyframe=True)
    for _ in range(MAX_QUEUED_FRAMES["video"] * 3):  # nobody reads: a stalled subscriber
        track.push("delta", keyframe=False)
    assert len(track._frames) <= MAX_QUEUED_FRAMES["video"]
    assert track.need_keyframe and source.keyframe_requests > 1
    track.push("key2", keyframe=True)
    assert list(track._frames) == ["key2"]


def test_audio_keeps_the_newest_frames():
    track = ForwardedTrack(Source("audio"))
    for i in range(100):
        track.push(i, keyframe=True)
    assert len(track._frames) <= MAX_QUEUED_FRAMES["audio"]
    assert track._frames[-1] == 99
