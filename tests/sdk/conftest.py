"""The SDK's tests run against ``make run``'s whole stack, started once for them
(``tests/local_stack.py``), and configure the SDK from the export line its banner prints.

They import the SDK from this tree's ``sdk/python/src``, whichever checkout the
virtualenv's editable install points at."""
from __future__ import annotations

import sys

import pytest

from devstack.process import ROOT

SDK_SRC = ROOT / "sdk" / "python" / "src"
if str(SDK_SRC) not in sys.path:
    sys.path.insert(0, str(SDK_SRC))

import dropon  # noqa: E402 - after the path above

from tests.local_stack import running_stack  # noqa: E402


@pytest.fixture(scope="package")
def sdk_stack(tmp_path_factory):
    """``python -m devstack.run`` on free ports, for this folder's tests only (stopped when
    they are done); its banner's ``export`` variables in ``["exports"]``."""
    with running_stack(tmp_path_factory.mktemp("sdk-stack")) as stack:
        yield stack


@pytest.fixture
def settings(sdk_stack) -> dict:
    """``DROPON_API_URL``, ``DROPON_WS_URL``, ``DROPON_API_KEY``, ``DROPON_API_SECRET``."""
    return dict(sdk_stack["exports"])


@pytest.fixture
def client(settings):
    with dropon.Client.from_env(settings) as made:
        yield made
