"""Destinations through the HTTP handler, on the embedded DynamoDB, verified against real
emulators: moto's S3 server, Azurite and gcp-storage-emulator.

The admin's story: register a bucket with its secrets, read it back without them, check
that the control plane can write there, and forget it. No secret is ever in an answer,
a log line or the table.
"""
from __future__ import annotations

import json
import logging

import boto3
import pytest
from azure.storage.blob import BlobServiceClient
from cryptography.fernet import Fernet
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from chalicelib import bootstrap
from tests.integration.api_support import Api, stored_items, store_env
from tests.integration.bucket_servers import (AZURITE_ACCOUNT, AZURITE_KEY,  # noqa: F401
                                              azurite_endpoint, gcs_endpoint, s3_endpoint)

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
SESSION = "FQoGZXIvYXdzEXAMPLESESSIONTOKEN"


@pytest.fixture(scope="module")
def api(dynamodb_endpoint):
    api = Api(store_env(dynamodb_endpoint), secrets_key=Fernet.generate_key().decode())
    bootstrap.configure(destination_store=bootstrap.build_destination_store(api.env))
    yield api
    api.close()


def s3_body(endpoint, bucket="recordings", **extra):
    return {"type": "s3", "bucket": bucket, "region": "us-east-1", "prefix": "rooms/",
            "endpoint": endpoint, "forcePathStyle": True,
            "credentials": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": SECRET_KEY,
                            "sessionToken": SESSION}, **extra}


def no_secret_in(*texts):
    for text in texts:
        assert SECRET_KEY not in text and SESSION not in text and AZURITE_KEY not in text


def test_register_read_list_and_delete_without_ever_showing_a_secret(api, s3_endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    created = api.ok("POST", "/destinations", s3_body(s3_endpoint), status=201)
    did = created["destinationId"]
    assert {k: created[k] for k in ("type", "bucket", "region", "prefix", "secretFields")} == {
        "type": "s3", "bucket": "recordings", "region": "us-east-1", "prefix": "rooms/",
        "secretFields": ["credentials"]}
    assert "credentials" not in created
    assert api.ok("GET", f"/destinations/{did}") == created
    listed = api.ok("GET", "/destinations")["destinations"]
    assert did in [d["destinationId"] for d in listed]
    verified = api.ok("POST", f"/destinations/{did}/verify")  # no bucket yet: refused
    no_secret_in(json.dumps([created, listed, verified]), caplog.text,
                 json.dumps(stored_items(api.env)))
    assert api.ok("DELETE", f"/destinations/{did}") == {"destinationId": did, "deleted": True}
    assert api.error("GET", f"/destinations/{did}") == (404, "destination_not_found")
    assert api.error("DELETE", f"/destinations/{did}") == (404, "destination_not_found")
    assert api.error("POST", f"/destinations/{did}/verify") == (404, "destination_not_found")


@pytest.mark.parametrize("body, code", [
    ({"type": "ftp", "bucket": "b"}, "invalid_field"),
    ({"type": "s3", "bucket": "b"}, "missing_field"),
    ({"type": "s3", "bucket": "b", "region": "r", "credentials": {"accessKeyId": "a"}},
     "missing_field"),
    ({"type": "gcs", "bucket": "b", "credentials": {"private_key": "k"}}, "invalid_field"),
    ({"type": "azure", "account": "a", "container": "c", "accountKey": "k", "sasToken": "t"},
     "invalid_field"),
    ({"type": "azure", "account": "a", "container": "c", "bucket": "b"}, "unknown_field"),
    ({"type": "s3", "bucket": "b", "region": "r", "endpoint": "ftp://x"}, "invalid_field"),
])
def test_bodies_are_checked(api, body, code):
    assert api.error("POST", "/destinations", body) == (422, code)


def test_only_admins_manage_destinations(api):
    room = api.create_room(policy={"mediaMode": "SFU"})["id"]
    token, _ = api.join(room, "hugo", "host")
    for method, path in (("POST", "/destinations"), ("GET", "/destinations"),
                         ("GET", "/destinations/x"), ("DELETE", "/destinations/x"),
                         ("POST", "/destinations/x/verify")):
        assert api.error(method, path, {}, token=token) == (403, "forbidden")


def test_verify_writes_and_deletes_a_probe_in_s3(api, s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="recordings")
    did = api.ok("POST", "/destinations", s3_body(s3_endpoint), status=201)["destinationId"]
    assert api.ok("POST", f"/destinations/{did}/verify") == {"ok": True}
    assert s3.list_objects_v2(Bucket="recordings").get("KeyCount") == 0
    missing = api.ok("POST", "/destinations", s3_body(s3_endpoint, bucket="nope"),
                     status=201)["destinationId"]
    refused = api.ok("POST", f"/destinations/{missing}/verify")
    assert refused["ok"] is False and "NoSuchBucket" in refused["error"]


def test_verify_in_azure_blob_storage_with_the_account_key(api, azurite_endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    BlobServiceClient(azurite_endpoint, credential={
        "account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    ).create_container("recordings")
    body = {"type": "azure", "account": AZURITE_ACCOUNT, "container": "recordings",
            "endpoint": azurite_endpoint, "accountKey": AZURITE_KEY}
    did = api.ok("POST", "/destinations", body, status=201)["destinationId"]
    assert api.ok("POST", f"/destinations/{did}/verify") == {"ok": True}
    wrong = api.ok("POST", "/destinations", {**body, "accountKey": "d3Jvbmcta2V5" * 4},
                   status=201)["destinationId"]
    refused = api.ok("POST", f"/destinations/{wrong}/verify")
    assert refused["ok"] is False and "failed to authenticate" in refused["error"]
    assert "d3Jvbmcta2V5" not in json.dumps(refused) + caplog.text
    no_secret_in(json.dumps(refused), caplog.text)


def test_verify_in_google_cloud_storage(api, gcs_endpoint):
    storage.Client(project="test", credentials=AnonymousCredentials(),
                   client_options={"api_endpoint": gcs_endpoint}).create_bucket("recordings")
    body = {"type": "gcs", "bucket": "recordings", "prefix": "podcasts",
            "endpoint": gcs_endpoint}
    did = api.ok("POST", "/destinations", body, status=201)["destinationId"]
    assert api.ok("POST", f"/destinations/{did}/verify") == {"ok": True}
    missing = api.ok("POST", "/destinations", {**body, "bucket": "nope"},
                     status=201)["destinationId"]
    refused = api.ok("POST", f"/destinations/{missing}/verify")
    assert refused["ok"] is False and refused["error"]


def test_register_with_verify_probes_first_and_keeps_nothing_refused(api, s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="checked")
    kept = api.ok("POST", "/destinations", s3_body(s3_endpoint, bucket="checked", verify=True),
                  status=201)
    assert kept["bucket"] == "checked" and "verify" not in kept
    assert s3.list_objects_v2(Bucket="checked").get("KeyCount") == 0  # the probe was deleted
    before = api.ok("GET", "/destinations")["destinations"]
    status, body = api.call("POST", "/destinations",
                            s3_body(s3_endpoint, bucket="absent", verify=True))
    assert (status, body["error"]["code"]) == (422, "destination_refused")
    assert "NoSuchBucket" in body["error"]["message"]
    no_secret_in(body["error"]["message"])
    assert api.ok("GET", "/destinations")["destinations"] == before
    assert api.error("POST", "/destinations", s3_body(s3_endpoint, verify="yes")) == (
        422, "invalid_field")
