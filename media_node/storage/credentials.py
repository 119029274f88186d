"""Opening the sealed credentials the control plane hands out with a destination.

Locally the control plane seals them with Fernet under ``DROPON_SECRETS_KEY``; deployed,
with the KMS key ``DROPON_KMS_KEY_ID`` (the control plane may only encrypt with it, the
node only decrypt: ``infra/``). Either way the node needs only :class:`SecretOpener`.
"""
from __future__ import annotations

import base64
import json
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken

from .errors import DestinationRefused


class SecretOpener(Protocol):
    """Turns a destination's ``sealed`` field into its credentials JSON."""

    def open(self, sealed: str | None) -> dict | None:
        """The credentials (None when none were sealed).

        :raises DestinationRefused: when they cannot be opened.
        """


class FernetSecretOpener:
    """Fernet (``cryptography``) with a key from the environment.

    :param key: ``DROPON_SECRETS_KEY``, a url-safe base64 32-byte key.
    """

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode() if isinstance(key, str) else key)

    def open(self, sealed: str | None) -> dict | None:
        if not sealed:
            return None
        try:
            opened = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            raise DestinationRefused("the destination's credentials cannot be opened "
                                     "(DROPON_SECRETS_KEY differs from the control plane's)") \
                from None
        return opened if isinstance(opened, dict) else None

    def __repr__(self) -> str:  # never the key
        return "FernetSecretOpener(***)"


#: the encryption context the control plane seals with (``chalicelib/adapters/sealers.py``)
KMS_CONTEXT = {"dropon": "destination"}


class KMSSecretOpener:
    """AWS KMS ``Decrypt`` of the control plane's base64 ciphertext.

    :param key_id: ``DROPON_KMS_KEY_ID``, the key's id, ARN or alias.
    :param client: a boto3 KMS client.
    """

    def __init__(self, key_id: str, client) -> None:
        self.key_id, self._client = key_id, client

    def open(self, sealed: str | None) -> dict | None:
        if not sealed:
            return None
        try:
            plain = self._client.decrypt(CiphertextBlob=base64.b64decode(sealed),
                                         KeyId=self.key_id,
                                         EncryptionContext=KMS_CONTEXT)["Plaintext"]
            opened = json.loads(plain)
        except Exception:  # botocore's errors, a bad blob: the answer is the same
            raise DestinationRefused("the destination's credentials cannot be opened "
                                     "(KMS refused DROPON_KMS_KEY_ID's Decrypt)") from None
        return opened if isinstance(opened, dict) else None

    def __repr__(self) -> str:
        return f"KMSSecretOpener({self.key_id!r})"
