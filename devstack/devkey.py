"""The development API key of ``make run``: made once, kept in .data/dev-key.json (mode 600).
Beside it: the node secret and the Fernet key that seals destinations' secrets
(``DROPON_SECRETS_KEY``; the media node opens them with the same key).

``DROPON_DATA_DIR`` moves .data (tests run a whole stack in a temporary folder).

``DROPON_API_KEY`` and ``DROPON_API_SECRET`` replace it. ``python -m devstack.devkey`` prints
a fresh admin token signed with it, for curl.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from .process import ROOT

DATA = Path(os.environ.get("DROPON_DATA_DIR") or ROOT / ".data")
KEY_FILE = DATA / "dev-key.json"


def load_or_create(path: Path = KEY_FILE, environ=os.environ) -> dict:
    """``{"key", "secret", "nodeSecret", "secretsKey", "webhookKey"}``: from the environment,
    the file, or made now (a file from before a key was added gets that key added)."""
    from cryptography.fernet import Fernet
    stored = json.loads(path.read_text()) if path.exists() else {}
    if not stored or "secretsKey" not in stored or "webhookKey" not in stored:
        stored = {"key": "dev-" + secrets.token_hex(4), "secret": secrets.token_urlsafe(32),
                  "nodeSecret": secrets.token_urlsafe(32),
                  "secretsKey": Fernet.generate_key().decode("ascii"),
                  "webhookKey": Fernet.generate_key().decode("ascii"), **stored}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(stored, out)
    if environ.get("DROPON_API_KEY") and environ.get("DROPON_API_SECRET"):
        stored = {**stored, "key": environ["DROPON_API_KEY"], "secret": environ["DROPON_API_SECRET"]}
    if environ.get("DROPON_NODE_SECRET"):
        stored = {**stored, "nodeSecret": environ["DROPON_NODE_SECRET"]}
    if environ.get("DROPON_SECRETS_KEY"):
        stored = {**stored, "secretsKey": environ["DROPON_SECRETS_KEY"]}
    if environ.get("DROPON_WEBHOOK_KEY"):
        stored = {**stored, "webhookKey": environ["DROPON_WEBHOOK_KEY"]}
    return stored


def admin_token(ttl_seconds: int = 3600) -> str:
    from chalicelib.api.auth import mint_admin_token
    key = load_or_create()
    return mint_admin_token(key["key"], key["secret"], ttl_seconds)


if __name__ == "__main__":
    print(admin_token())
