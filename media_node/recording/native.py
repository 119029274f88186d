"""Whether a recorded track's per-frame work runs in C (``_depay.c``) or in Python.

:attr:`module` is ``media_node.recording._depay`` where it is built (``make venv``,
the image's build stage) and None otherwise: :class:`~.frames.FrameAssembler` and
:class:`~.opus.OpusJoiner` then run their pure Python, which does the same (unit tests
hold the two equal on random input). The first recording without it says so in the log.
"""
from __future__ import annotations

import logging

try:
    from . import _depay
except ImportError:  # not built: the pure Python does the same
    _depay = None

logger = logging.getLogger(__name__)
module = _depay
_warned = False


def use(on: bool = True) -> bool:
    """Run in C (``on``, where built) or in Python; returns whether C is in use."""
    global module
    module = _depay if on else None
    return module is not None


def check() -> None:
    """Log once that recording runs in pure Python when the module is not built."""
    global _warned
    if _depay is None and not _warned:
        _warned = True
        logger.warning("media_node/recording/_depay is not built: recording assembles "
                       "frames in Python (python -m media_node.build_native)")
