"""``SecretSealer``s: destinations' secrets encrypted at rest.

- ``FernetSealer``: a Fernet key (``cryptography``) from ``DROPON_SECRETS_KEY``, under
  ``make run`` and wherever no KMS key is configured; a sealed value is a Fernet token.
- ``KMSSealer``: AWS KMS ``Encrypt``/``Decrypt`` with the key ``DROPON_KMS_KEY_ID`` and the
  encryption context ``{"dropon": "destination"}``; a sealed value is the ciphertext
  blob in base64. KMS encrypts at most 4096 bytes directly, enough for a service account.
- ``NoSealer``: neither is configured; a destination with secrets is refused.
"""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken

from chalicelib.domain.errors import InvalidArgument, InvalidState

KMS_CONTEXT = {"dropon": "destination"}
KMS_MAX_PLAINTEXT = 4096


class FernetSealer:
    """:param key: a Fernet key (``Fernet.generate_key()``, url-safe base64 of 32 bytes)."""

    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode("ascii")

    def open(self, sealed: str) -> bytes:
        try:
            return self._fernet.decrypt(sealed.encode("ascii"))
        except InvalidToken:
            # another key sealed it (DROPON_SECRETS_KEY changed): register the secrets again
            raise InvalidState("the destination's secrets were sealed with another key",
                               code="secrets_unreadable") from None


class KMSSealer:
    """:param key_id: a KMS key id, ARN or alias. :param client: a boto3 KMS client."""

    def __init__(self, key_id: str, client) -> None:
        self.key_id, self._client = key_id, client

    def seal(self, plaintext: bytes) -> str:
        if len(plaintext) > KMS_MAX_PLAINTEXT:
            raise InvalidArgument(f"the secrets exceed {KMS_MAX_PLAINTEXT} bytes",
                                  field="credentials")
        blob = self._client.encrypt(KeyId=self.key_id, Plaintext=plaintext,
                                    EncryptionContext=KMS_CONTEXT)["CiphertextBlob"]
        return base64.b64encode(blob).decode("ascii")

    def open(self, sealed: str) -> bytes:
        try:
            return self._client.decrypt(CiphertextBlob=base64.b64decode(sealed),
                                        KeyId=self.key_id,
                                        EncryptionContext=KMS_CONTEXT)["Plaintext"]
        except self._client.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") != "AccessDeniedException":
                raise
            # deployed, the control plane may only encrypt (infra/): only media nodes open
            raise InvalidState("this control plane may seal secrets but not open them; "
                               "register the destination with verify: true to check it",
                               code="secrets_sealed") from None


class NoSealer:
    """No key is configured: secrets cannot be kept, so they are not accepted."""

    def seal(self, plaintext: bytes) -> str:
        raise _not_configured()

    def open(self, sealed: str) -> bytes:
        raise _not_configured()


def _not_configured() -> InvalidState:
    return InvalidState("set DROPON_SECRETS_KEY or DROPON_KMS_KEY_ID to keep secrets",
                        code="secrets_not_configured")
