"""What the recording tests check of every file: ffprobe's streams, codecs and duration,
a decode to the end without a word from ffmpeg, and the sha256."""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path


def probe(path: Path) -> dict:
    """ffprobe's streams and format of ``path``."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of",
                          "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def decode_errors(path: Path) -> str:
    """What ``ffmpeg -v error -i path -f null -`` prints (nothing for a sound file)."""
    done = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null",
                           "-"], capture_output=True, text=True)
    return (done.stdout + done.stderr).strip()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_file(path: Path, entry: dict, codec: str | list[str], seconds: float) -> dict:
    """Assert the file is one ``codec`` stream (or the ``codec`` list's streams, in order)
    lasting ``seconds`` (±0.5 s), decodable to the end, and that it is the manifest
    ``entry``'s file; returns ffprobe's view."""
    info = probe(path)
    streams = info["streams"]
    assert [s["codec_name"] for s in streams] == ([codec] if isinstance(codec, str)
                                                  else codec), streams
    if entry["kind"] != "composite":
        assert streams[0]["codec_type"] == entry["kind"]
    duration = float(info["format"]["duration"])
    assert abs(duration - seconds) <= 0.5, (path.name, duration, seconds)
    assert abs(duration - entry["durationSeconds"]) <= 0.5, (duration, entry)
    assert decode_errors(path) == "", path.name
    assert sha256(path) == entry["sha256"]
    assert path.stat().st_size == entry["bytes"]
    return info
