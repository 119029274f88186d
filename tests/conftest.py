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
