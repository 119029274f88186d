"""Which packet loop the node forwards with (``DROPON_FANOUT``), and a clear stop when
the C loop is asked for but not built."""
from __future__ import annotations

import subprocess
import sys

import pytest

from devstack.process import ROOT
from media_node.config import NodeConfig
from media_node.sfu import fanout


@pytest.fixture(autouse=True)
def restore():
    yield
    fanout.use_native("auto")


def test_the_setting_is_read_and_checked():
    env = {"DROPON_NODE_SECRET": "s" * 32}
    assert NodeConfig.from_env(env).fanout == "auto"
    assert NodeConfig.from_env({**env, "DROPON_FANOUT": "python"}).fanout == "python"
    with pytest.raises(ValueError, match="DROPON_FANOUT"):
        NodeConfig.from_env({**env, "DROPON_FANOUT": "fast"})


def test_python_forces_the_python_loop_and_auto_takes_c_where_built():
    assert fanout.use_native("python") is False and fanout._native_write is None
    assert fanout.use_native("auto") is (fanout._fanout is not None)


def test_c_without_the_module_refuses(monkeypatch):
    monkeypatch.setattr(fanout, "_fanout", None)
    with pytest.raises(RuntimeError, match="not built"):
        fanout.use_native("c")
    assert fanout.use_native("auto") is False  # falls back, with a warning in the log


def test_the_node_process_stops_with_a_message_when_c_is_missing(tmp_path):
    # a copy of the package without the built module, as on a machine with no compiler
    for path in (ROOT / "media_node").rglob("*.py"):
        copy = tmp_path / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
    env = {"DROPON_NODE_SECRET": "s" * 32, "DROPON_FANOUT": "c", "DROPON_CONTROL_URL": "",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "media_node"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "DROPON_FANOUT=c but media_node/sfu/_fanout is not built" in done.stderr
