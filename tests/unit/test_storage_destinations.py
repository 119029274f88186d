"""Sealed credentials open with the shared key only; a destination gives its uploader."""
from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from media_node.storage.azure import AzureBlobUploader
from media_node.storage.credentials import FernetSecretOpener
from media_node.storage.destinations import uploader_for
from media_node.storage.errors import DestinationRefused
from media_node.storage.gcs import GCSUploader
from media_node.storage.s3 import S3Uploader


def test_sealed_credentials_open_with_the_key_and_never_show_it():
    key = Fernet.generate_key().decode()
    sealed = Fernet(key).encrypt(json.dumps({"accessKeyId": "A", "secretAccessKey": "S"})
                                 .encode()).decode()
    opener = FernetSecretOpener(key)
    assert opener.open(sealed) == {"accessKeyId": "A", "secretAccessKey": "S"}
    assert opener.open(None) is None
    assert key not in repr(opener)
    with pytest.raises(DestinationRefused) as refused:
        FernetSecretOpener(Fernet.generate_key().decode()).open(sealed)
    assert "accessKeyId" not in refused.value.message


def test_each_destination_type_gives_its_uploader():
    s3 = uploader_for({"type": "s3", "bucket": "b", "region": "eu-west-1", "prefix": "p/",
                       "endpoint": "http://127.0.0.1:9", "forcePathStyle": True},
                      {"accessKeyId": "A", "secretAccessKey": "very-secret"})
    assert isinstance(s3, S3Uploader) and s3.key("f.webm") == "p/f.webm"
    assert s3.redact("denied for very-secret") == "denied for ***"
    gcs = uploader_for({"type": "gcs", "bucket": "b", "endpoint": "http://127.0.0.1:9"}, None)
    assert isinstance(gcs, GCSUploader) and gcs.uri("k") == "gs://b/k"
    azure = uploader_for({"type": "azure", "account": "acct", "container": "c",
                          "endpoint": "http://127.0.0.1:9/acct"}, {"sasToken": "sv=1&sig=x"})
    assert isinstance(azure, AzureBlobUploader) and azure.uri("k").endswith("/c/k")
    assert "sig=" not in azure.uri("k")
    for uploader in (s3, gcs, azure):
        uploader.close()


def test_an_unknown_or_incomplete_destination_is_refused():
    with pytest.raises(DestinationRefused):
        uploader_for({"type": "ftp"}, None)
    with pytest.raises(DestinationRefused) as refused:
        uploader_for({"type": "azure", "account": "a"}, {"accountKey": "k"})
    assert "container" in refused.value.message
