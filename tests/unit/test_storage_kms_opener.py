"""The node opens what the control plane seals with KMS (a fake KMS: no AWS call)."""
from __future__ import annotations

import json

import pytest

from chalicelib.adapters.sealers import KMS_CONTEXT as SEALED_WITH, KMSSealer
from media_node.bootstrap import secret_opener
from media_node.config import NodeConfig
from media_node.storage.credentials import KMS_CONTEXT, KMSSecretOpener
from media_node.storage.errors import DestinationRefused


class FakeKMS:
    """Encrypt and Decrypt of one key; the blob carries its context, as KMS binds it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def encrypt(self, KeyId, Plaintext, EncryptionContext):
        self.calls.append("Encrypt")
        return {"CiphertextBlob": json.dumps([KeyId, EncryptionContext]).encode() + b"\n" + Plaintext}

    def decrypt(self, CiphertextBlob, KeyId, EncryptionContext):
        self.calls.append("Decrypt")
        header, plain = CiphertextBlob.split(b"\n", 1)
        if json.loads(header) != [KeyId, EncryptionContext]:
            raise RuntimeError("InvalidCiphertextException")
        return {"Plaintext": plain}


def test_the_node_opens_what_the_control_plane_sealed():
    kms = FakeKMS()
    sealed = KMSSealer("alias/k", kms).seal(json.dumps({"accessKeyId": "A"}).encode())
    assert KMSSecretOpener("alias/k", kms).open(sealed) == {"accessKeyId": "A"}
    assert kms.calls == ["Encrypt", "Decrypt"]
    assert KMS_CONTEXT == SEALED_WITH  # the same context on both sides, or KMS refuses


def test_a_refused_decrypt_is_a_refused_destination_without_the_blob():
    sealed = KMSSealer("alias/k", FakeKMS()).seal(b"{}")
    with pytest.raises(DestinationRefused) as refused:
        KMSSecretOpener("alias/other", FakeKMS()).open(sealed)
    assert sealed not in str(refused.value)
    assert KMSSecretOpener("alias/k", FakeKMS()).open(None) is None


def test_the_key_id_chooses_kms_over_fernet(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # boto3 wants one; nothing is called
    config = NodeConfig.from_env({"DROPON_NODE_SECRET": "s" * 32, "DROPON_KMS_KEY_ID": "alias/k"})
    assert config.kms_key_id == "alias/k"
    assert isinstance(secret_opener(config), KMSSecretOpener)
    assert secret_opener(NodeConfig.from_env({"DROPON_NODE_SECRET": "s" * 32})) is None
