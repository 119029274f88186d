"""``make run``'s whole stack (``python -m devstack.run``) for tests: free 127.0.0.1
ports, its data in a temporary folder, stopped with SIGINT as Ctrl-C would (then by its
process group's pid if it hangs)."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from devstack.process import ROOT, free_port

START_TIMEOUT = 180  # a safety net against a hang, never a measurement


def exports(banner: str) -> dict:
    """The variables of the banner's ``export DROPON_API_URL=... ...`` line."""
    line = next(line for line in banner.splitlines() if line.strip().startswith("export "))
    return dict(item.split("=", 1) for item in shlex.split(line.strip())[1:])


@contextmanager
def running_stack(data: Path, **env: str):
    """Start the stack; yield ``{"port", "env", "data", "proc", "exports"}``; stop it."""
    port = free_port()
    env = {**os.environ, "DROPON_DATA_DIR": str(data), "DROPON_API_PORT": str(port),
           "DROPON_TICK_SECONDS": "1", "DROPON_NODE_PORT": str(free_port()),
           "DROPON_WS_PORT": str(free_port()),
           "DROPON_WEB_PORT": str(free_port()), **env}
    out_path = data / "run.out"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "devstack.run"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while b"is running" not in out_path.read_bytes():
            assert proc.poll() is None, out_path.read_text()
            assert time.monotonic() < deadline, out_path.read_text()
            time.sleep(0.5)
        time.sleep(0.5)  # the rest of the banner
        yield {"port": port, "env": env, "data": data, "proc": proc,
               "exports": exports(out_path.read_text())}
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def banner_has_exports(text: str) -> bool:
    return re.search(r"^\s*export DROPON_API_URL=\S+ DROPON_WS_URL=", text, re.M) is not None
