"""Fixtures of the unit tests."""
from __future__ import annotations

import pytest

from media_node.recording import native


@pytest.fixture(params=["c", "python"])
def depay(request):
    """Each recording per-frame test runs on the C module (``_depay``) and on the pure
    Python; yields which."""
    if request.param == "c" and native._depay is None:
        pytest.skip("media_node/recording/_depay is not built (make venv builds it)")
    native.use(request.param == "c")
    try:
        yield request.param
    finally:
        native.use(True)
