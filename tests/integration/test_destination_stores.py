"""One contract, two destination stores: in memory and on the embedded DynamoDB."""
from __future__ import annotations

import pytest

from chalicelib import bootstrap
from chalicelib.domain.destinations import Destination
from tests.integration.api_support import store_env


@pytest.fixture(params=["memory", "dynamodb"])
def store(request):
    if request.param == "memory":
        return bootstrap.build_destination_store({})
    return bootstrap.build_destination_store(store_env(request.getfixturevalue(
        "dynamodb_endpoint")))


def destination(did: str, **extra) -> Destination:
    return Destination(did, "azure", {"account": "a", "container": "c", "prefix": "p/"},
                       "2026-01-01T00:00:00Z", ("accountKey",), "sealed-" + did, **extra)


def test_save_get_all_and_delete(store):
    assert store.get("d1") is None and store.all() == []
    store.save(destination("d1"))
    store.save(destination("d2"))
    assert store.get("d1") == destination("d1")
    assert sorted(d.destination_id for d in store.all()) == ["d1", "d2"]
    assert store.delete("d1") is True and store.delete("d1") is False
    assert store.get("d1") is None and [d.destination_id for d in store.all()] == ["d2"]


def test_a_destination_without_secrets(store):
    plain = Destination("d3", "gcs", {"bucket": "b"}, "2026-01-01T00:00:00Z")
    store.save(plain)
    assert store.get("d3") == plain and store.get("d3").sealed is None
