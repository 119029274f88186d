"""The three storage emulators on 127.0.0.1, each a process of the test's own.

Each context manager starts one on a free port, waits until it answers, yields how to
reach it, and stops that process (by its pid) on exit.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AZURITE = Path(os.environ.get("DROPON_AZURITE",
                              ROOT / ".tools" / "node_modules" / ".bin" / "azurite"))
# Azurite's well-known development account (public, in Microsoft's documentation)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url} within {timeout} s")


@contextlib.contextmanager
def _process(args: list[str], url: str, log: Path, **kw):
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, **kw)
    try:
        _wait_http(url, process)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and children
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def moto_s3_server(log_dir: Path):
    """``python -m moto.server`` on 127.0.0.1; yields its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                  url, log_dir / "moto.log"):
        yield url


@contextlib.contextmanager
def gcs_emulator(log_dir: Path):
    """``gcp-storage-emulator`` in memory on 127.0.0.1; yields its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    binary = Path(sys.executable).with_name("gcp-storage-emulator")
    with _process([str(binary), "start", "--host", "127.0.0.1", "--port", str(port),
                   "--in-memory", "-q"], url, log_dir / "gcs.log"):
        yield url


@contextlib.contextmanager
def azurite(log_dir: Path):
    """Azurite's blob service on 127.0.0.1 in a temporary folder; yields the account URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    with tempfile.TemporaryDirectory(prefix="azurite-") as folder:
        with _process([str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                       "--queuePort", str(free_port()), "--tablePort", str(free_port()),
                       "--location", folder, "--skipApiVersionCheck", "--silent",
                       "--disableTelemetry"], url, log_dir / "azurite.log"):
            yield url
