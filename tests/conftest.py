"""Session-wide local services. Each is started here and stopped by its pid here."""
from __future__ import annotations

import os

import pytest

from devstack.dynamodb import embedded_dynamodb, endpoint

# never reach a real AWS account from a test
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def dynamodb_endpoint(tmp_path_factory):
    """The embedded DynamoDB (``python -m devstack.dynamodb``, moto made safe), in memory.
    Tests share it and keep apart by a table prefix of their own."""
    log = tmp_path_factory.mktemp("dynamodb") / "server.log"
    with embedded_dynamodb(log_path=log) as server:
        yield endpoint(server)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """moto's S3 server on 127.0.0.1 (a process of this session, stopped by its pid)."""
    from tests.storage_servers import moto_s3_server
    with moto_s3_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture(scope="session")
def gcs_endpoint(tmp_path_factory):
    """gcp-storage-emulator in memory on 127.0.0.1."""
    from tests.storage_servers import gcs_emulator
    with gcs_emulator(tmp_path_factory.mktemp("gcs")) as url:
        yield url


@pytest.fixture(scope="session")
def azurite_endpoint(tmp_path_factory):
    """Azurite's blob service on 127.0.0.1, the account URL."""
    from tests.storage_servers import AZURITE, azurite
    if not AZURITE.exists():
        pytest.skip(f"Azurite is not installed at {AZURITE}")
    with azurite(tmp_path_factory.mktemp("azurite")) as url:
        yield url
