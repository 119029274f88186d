"""Sealers keep destinations' secrets encrypted at rest; redaction keeps them out of
messages. No I/O: KMS is moto's in-process mock."""
import json

import boto3
import pytest
from cryptography.fernet import Fernet
from moto import mock_aws

from chalicelib.adapters.sealers import FernetSealer, KMSSealer, NoSealer
from chalicelib.application.destinations import redact
from chalicelib.domain import errors

SECRETS = {"credentials": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "s3cr3t-Value"}}


def test_fernet_seals_and_opens_and_another_key_cannot_open():
    key = Fernet.generate_key()
    sealed = FernetSealer(key).seal(json.dumps(SECRETS).encode())
    assert "s3cr3t-Value" not in sealed and "AKIAEXAMPLE" not in sealed
    assert json.loads(FernetSealer(key.decode()).open(sealed)) == SECRETS
    # what the media node does with DROPON_SECRETS_KEY
    assert json.loads(Fernet(key).decrypt(sealed.encode())) == SECRETS
    with pytest.raises(errors.InvalidState) as caught:
        FernetSealer(Fernet.generate_key()).open(sealed)
    assert caught.value.code == "secrets_unreadable"


@mock_aws
def test_kms_seals_with_its_key_and_context():
    client = boto3.client("kms", region_name="us-east-1")
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
    sealer = KMSSealer(key_id, client)
    sealed = sealer.seal(json.dumps(SECRETS).encode())
    assert "s3cr3t-Value" not in sealed
    assert json.loads(sealer.open(sealed)) == SECRETS
    with pytest.raises(errors.InvalidArgument):
        sealer.seal(b"x" * 4097)


def test_without_a_key_secrets_are_refused():
    with pytest.raises(errors.InvalidState) as caught:
        NoSealer().seal(b"{}")
    assert caught.value.code == "secrets_not_configured"


def test_redact_hides_every_secret_string_in_a_message():
    message = "denied for AKIAEXAMPLE with s3cr3t-Value"
    assert redact(message, SECRETS) == "denied for [redacted] with [redacted]"


@mock_aws
def test_kms_refusing_decrypt_is_a_stable_code_other_errors_pass_through():
    """Deployed, the control plane's role may Encrypt only (infra/): KMS answers
    AccessDeniedException to its Decrypt, which becomes 409 secrets_sealed."""
    from botocore.stub import Stubber
    client = boto3.client("kms", region_name="us-east-1")
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
    sealed = KMSSealer(key_id, client).seal(b"{}")
    with Stubber(client) as stub:
        stub.add_client_error("decrypt", service_error_code="AccessDeniedException",
                              http_status_code=400)
        stub.add_client_error("decrypt", service_error_code="InvalidCiphertextException",
                              http_status_code=400)
        with pytest.raises(errors.InvalidState) as caught:
            KMSSealer(key_id, client).open(sealed)
        assert caught.value.code == "secrets_sealed" and caught.value.status == 409
        with pytest.raises(client.exceptions.ClientError):
            KMSSealer(key_id, client).open(sealed)


def test_leftovers_a_control_plane_that_may_not_open_secrets_reports_why_and_lists_nothing():
    """Deployed, the tick may not Decrypt (only media nodes open secrets): the sweep of a
    lost node's uploads records why it could not list the bucket, and never probes it."""
    from datetime import datetime, timezone

    from chalicelib.application.destinations import DestinationService
    from chalicelib.persistence.destinations import InMemoryDestinationStore

    class SealOnly(FernetSealer):
        def open(self, sealed):
            raise errors.InvalidState("may seal, not open", code="secrets_sealed")

    class Probe:
        calls = 0

        def leftovers(self, settings, secrets, under):
            Probe.calls += 1
            return {"objects": [], "uploads": [], "error": None}

    service = DestinationService(InMemoryDestinationStore(), SealOnly(Fernet.generate_key()),
                                 {"s3": Probe()})
    did = service.register("s3", {"bucket": "b", "region": "us-east-1"}, SECRETS,
                           datetime.now(timezone.utc))["destinationId"]
    found = service.leftovers(did, "rec-1")
    assert found["objects"] == found["uploads"] == [] and Probe.calls == 0
    assert found["error"].startswith("secrets_sealed: may seal, not open")
    assert found["retryable"] is False  # the tick will never be allowed to: not retried
    assert "s3cr3t-Value" not in json.dumps(found)
