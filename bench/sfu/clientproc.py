"""A load-client child process, spoken to with JSON lines, stopped by its pid."""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from devstack.process import ROOT


class ClientProcess:
    """`python -m bench.sfu.loadclient` pinned to one CPU, maybe inside a namespace."""

    def __init__(self, prefix: list[str], args: list[str], env: dict[str, str], cpu: int,
                 log_path: Path):
        argv = [*prefix, "taskset", "-c", str(cpu), sys.executable, "-m",
                "bench.sfu.loadclient", *args]
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env},
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, start_new_session=True)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, **cmd) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def read(self, event: str, timeout: float) -> dict:
        """The next event line; fail with the client's stderr if it is not `event`."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"load client gave no {event!r} within {timeout:.0f}s") from None
        msg = json.loads(line) if line else None
        if not msg or msg.get("event") != event:
            raise RuntimeError(f"load client: expected {event!r}, got {msg}; log: {self.tail()}")
        return msg

    def request(self, timeout: float, event: str, **cmd) -> dict:
        self.send(**cmd)
        return self.read(event, timeout)

    def tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-1500:]

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # the client closes its peers and exits
                self.proc.wait(timeout)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        self._log.close()
