"""Server recording: each published track remuxed to a file, streamed to a bucket.

- :mod:`.frames`: RTP payloads to whole encoded frames (no decoding), timestamps unwrapped;
- :mod:`.remux`: a frame sequence into WebM/Matroska with PyAV, on a spool file (and an
  unfinished spool into a finished file);
- :mod:`.opus`: Opus frames joined into packets of up to 100 ms, without decoding;
- :mod:`.track_writer`: one track's file: queued on the loop, muxed and uploaded off it;
- :mod:`.batches`: the clock every writer of the node is muxed on, one pool job a tick;
- :mod:`.recording`: one recording of a room: its writers, manifest and reports;
- :mod:`.kept`: the note on the node's disk that lets a restarted node finish and retry;
- :mod:`.recordings`: the node's recordings, driven by the room's events;
- :mod:`.composite`: the composite output on the loop (taps, the queue, the upload);
- :mod:`.compositor`: its own process: decode, :mod:`.layout`, :mod:`.canvas`,
  :mod:`.mixer`, encode into one MP4.

Imports :mod:`media_node.sfu` (tracks, rooms), :mod:`media_node.storage` and
:mod:`media_node.control`; nothing of the node imports it but :mod:`media_node.node`.
"""
