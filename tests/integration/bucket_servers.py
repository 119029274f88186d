"""The three stores recordings go to, each an emulator on 127.0.0.1 started by a fixture
and stopped by it: moto's S3 server, Azurite (blob) and gcp-storage-emulator.

Import the fixtures into a test module (``from tests.integration.bucket_servers import *``).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from devstack.process import TOOLS, ServerProcess, free_port

# Azurite's well-known development account (its documentation publishes the key)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server (in this process's threads)."""
    from moto.server import ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def azurite_endpoint(tmp_path_factory):
    """Azurite's blob service; its account's URL (``http://127.0.0.1:PORT/devstoreaccount1``)."""
    azurite = TOOLS / "node_modules" / ".bin" / "azurite-blob"
    if not azurite.exists():
        azurite = shutil.which("azurite-blob")
    if azurite is None:
        pytest.skip("azurite is not installed (npm install azurite into .tools)")
    port, folder = free_port(), tmp_path_factory.mktemp("azurite")
    server = ServerProcess([str(azurite), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                            "--location", str(folder), "--skipApiVersionCheck", "--silent",
                            "--loose"], port, log_path=folder / "azurite.log")
    with server:
        yield f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"


@pytest.fixture(scope="module")
def gcs_endpoint(tmp_path_factory):
    """gcp-storage-emulator, in memory."""
    port, folder = free_port(), tmp_path_factory.mktemp("gcs")
    emulator = str(Path(sys.executable).parent / "gcp-storage-emulator")
    server = ServerProcess([emulator, "start", "--host", "127.0.0.1", "--port", str(port),
                            "--in-memory"], port, log_path=folder / "gcs.log")
    with server:
        yield f"http://127.0.0.1:{port}"
