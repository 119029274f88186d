"""Build the media node's C modules in place, each next to its source.

- ``media_node/sfu/_fanout``: the direct path's packet loop (:mod:`media_node.sfu.fanout`).
- ``media_node/recording/_depay``: a recorded track's per-frame work, VP8 assembly and
  Opus joining (:mod:`media_node.recording.frames`, :mod:`media_node.recording.opus`).

``python -m media_node.build_native`` (or ``python media_node/build_native.py``)
compiles them with the compiler and flags this Python was built with; ``make venv``
runs it. It needs a C compiler and Python's headers. Without a module the node does the
same in pure Python: forwarding says so in its log (``DROPON_FANOUT=auto``, the
default), and so does the first recording.
"""
from __future__ import annotations

import pathlib
import shlex
import subprocess
import sys
import sysconfig

HERE = pathlib.Path(__file__).resolve().parent
SOURCES = (HERE / "sfu" / "_fanout.c", HERE / "recording" / "_depay.c")


def target(source: pathlib.Path) -> pathlib.Path:
    """Where a module goes: next to its source, with this Python's suffix."""
    return source.with_name(f"{source.stem}{sysconfig.get_config_var('EXT_SUFFIX')}")


def build(source: pathlib.Path, force: bool = False) -> pathlib.Path:
    """Compile ``source`` unless its module is newer; returns the module's path."""
    out = target(source)
    if not force and out.exists() and out.stat().st_mtime >= source.stat().st_mtime:
        return out
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    command = [*cc, "-O2", "-fPIC", "-shared", "-Wall", "-Wextra",
               "-Wno-unused-parameter", "-Wno-cast-function-type",
               f"-I{sysconfig.get_paths()['include']}", str(source), "-o", str(out)]
    subprocess.run(command, check=True)
    return out


if __name__ == "__main__":
    for source in SOURCES:
        print(build(source, force="--force" in sys.argv))
