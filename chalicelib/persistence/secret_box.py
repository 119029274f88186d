"""Webhook secrets sealed at rest with Fernet (``cryptography``: AES-128-CBC + HMAC-SHA256).

The key is ``DROPON_WEBHOOK_KEY`` (``Fernet.generate_key()``); only the sealed form is
ever stored in an event.
"""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class FernetSecretBox:
    def __init__(self, key: str):
        try:
            self._fernet = Fernet(key.encode() if isinstance(key, str) else key)
        except (ValueError, TypeError):
            raise ValueError("DROPON_WEBHOOK_KEY is not a Fernet key "
                             "(32 url-safe base64-encoded bytes)") from None

    def __repr__(self) -> str:
        return "FernetSecretBox(<key hidden>)"

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("a webhook secret was sealed with another key") from None
