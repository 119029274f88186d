"""The SFU benchmark's machinery at tiny scale: one publisher, one subscriber, 3 s.

Not a performance test (figures come from `make bench-sfu`): it checks that the
load clients reach the media node, that packets are counted below the jitter
buffer, and that the figures are computed from them.
"""
from __future__ import annotations

import pytest

from bench.sfu.measure import measure_target

pytestmark = pytest.mark.media


def test_node_target_counts_forwarded_packets(tmp_path):
    result = measure_target("node", publishers=1, levels=[0, 1], seconds=3, warmup=1,
                            workdir=tmp_path, log=lambda line: None)

    assert result.error is None, result.error
    idle, one = result.levels
    assert (idle.n, one.n) == (0, 1)
    assert idle.packets_out == 0
    # one audio (50/s) and one video stream (~100/s) reached the subscriber and were counted
    assert one.packets_out > 50
    assert one.fps_mean and one.fps_mean > 0
    # RTP time moved on with wall time: 30 fps of media time, at about real-time pace
    assert one.fps_media_min and 20 < one.fps_media_min < 40
    assert one.pace_min and 0.5 < one.pace_min < 1.5
    assert len(one.first_frame_s) == 1 and one.no_frame == 0
    assert one.server_cpu > 0
