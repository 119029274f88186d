"""Build ``media_node/sfu/_fanout`` (the direct path's packet loop in C) in place.

``python -m media_node.sfu.build_fanout`` compiles ``_fanout.c`` with the compiler and
flags this Python was built with; ``make venv`` runs it. It needs a C compiler and
Python's headers; without the module the node forwards with the pure Python loop
(``DROPON_FANOUT=auto``, the default) and says so in its log.
"""
from __future__ import annotations

import pathlib
import shlex
import subprocess
import sys
import sysconfig

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "_fanout.c"


def target() -> pathlib.Path:
    """Where the extension goes: next to its source, with this Python's suffix."""
    return HERE / f"_fanout{sysconfig.get_config_var('EXT_SUFFIX')}"


def build(force: bool = False) -> pathlib.Path:
    """Compile unless the module is newer than its source; returns its path."""
    out = target()
    if not force and out.exists() and out.stat().st_mtime >= SOURCE.stat().st_mtime:
        return out
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    command = [*cc, "-O2", "-fPIC", "-shared", "-Wall", "-Wextra",
               "-Wno-unused-parameter", "-Wno-cast-function-type",
               f"-I{sysconfig.get_paths()['include']}", str(SOURCE), "-o", str(out)]
    subprocess.run(command, check=True)
    return out


if __name__ == "__main__":
    print(build(force="--force" in sys.argv))
