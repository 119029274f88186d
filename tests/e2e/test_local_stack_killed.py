"""``make run`` killed with SIGKILL leaves no server behind.

``python -m devstack.run`` gets no chance to stop its services; each child learns of its
parent's death from the kernel (``PR_SET_PDEATHSIG`` in ``devstack/process.py``) and
stops. The stack runs on free ports with its data in a temporary folder
(``DROPON_DATA_DIR``); every process it started, and their children, must be gone within
seconds and every port free.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from devstack.process import ROOT, free_port

STARTUP_SECONDS = 180
GONE_WITHIN = 10


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children, ...), from /proc."""
    found, stack = set(), [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    stack.append(child)
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited child whose new parent has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_sigkill_of_make_run_leaves_no_server_running(tmp_path):
    ports = {"DROPON_API_PORT": free_port(), "DROPON_NODE_PORT": free_port(),
             "DROPON_DYNAMODB_PORT": free_port(), "DROPON_WEB_PORT": free_port()}
    env = {**os.environ, "DROPON_DATA_DIR": str(tmp_path), "DROPON_TICK_SECONDS": "1",
           **{k: str(v) for k, v in ports.items()}}
    out = tmp_path / "run.out"
    with open(out, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "devstack.run"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    started = set()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while b"is running" not in out.read_bytes():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.5)
        assert (tmp_path / "dev-key.json").exists()  # the data went to the temporary folder
        started = descendants(proc.pid)
        assert len(started) >= 4, started  # DynamoDB, the API, a media node, the ticker
        assert all(listening(port) for port in ports.values()), ports

        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + GONE_WITHIN
        while any(running(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                for pid in started if running(pid)}
        assert left == {}, left
        assert [name for name, port in ports.items() if listening(port)] == []
    finally:
        # what a failing run left behind: the test's own processes, by their pids
        for pid in [proc.pid, *started]:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
