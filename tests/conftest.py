"""Session-wide local services. Each is started here and stopped by its pid here."""
from __future__ import annotations

import os

import pytest

from devstack.dynamodb_local import dynamodb_local, endpoint
from devstack.moto_server import MotoServer

# never reach a real AWS account from a test
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto server on 127.0.0.1 (DynamoDB, S3); functional tests on small tables."""
    with MotoServer() as server:
        yield server.endpoint


@pytest.fixture(scope="session")
def dynamodb_local_endpoint(tmp_path_factory):
    """Amazon's DynamoDB Local, in memory; for isolation, concurrency and load."""
    log = tmp_path_factory.mktemp("dynamodb-local") / "server.log"
    with dynamodb_local(log_path=log) as server:
        yield endpoint(server)
