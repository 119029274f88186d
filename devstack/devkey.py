"""The development API key of ``make run``: made once, kept in .data/dev-key.json (mode 600).

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
    """``{"key", "secret", "nodeSecret", "webhookKey"}``: from the environment, the file, or
    made now (a file from before webhooks gets its webhook key added)."""
    stored = json.loads(path.read_text()) if path.exists() else {}
    if not stored or "webhookKey" not in stored:
        from cryptography.fernet import Fernet
        stored = {"key": "dev-" + secrets.token_hex(4), "secret": secrets.token_urlsafe(32),
                  "nodeSecret": secrets.token_urlsafe(32), **stored,
                  "webhookKey": Fernet.generate_key().decode()}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(stored, out)
    if environ.get("DROPON_API_KEY") and environ.get("DROPON_API_SECRET"):
        stored = {**stored, "key": environ["DROPON_API_KEY"], "secret": environ["DROPON_API_SECRET"]}
    if environ.get("DROPON_NODE_SECRET"):
        stored = {**stored, "nodeSecret": environ["DROPON_NODE_SECRET"]}
    if environ.get("DROPON_WEBHOOK_KEY"):
        stored = {**stored, "webhookKey": environ["DROPON_WEBHOOK_KEY"]}
    return stored


def admin_token(ttl_seconds: int = 3600) -> str:
    from chalicelib.api.auth import mint_admin_token
    key = load_or_create()
    return mint_admin_token(key["key"], key["secret"], ttl_seconds)


if __name__ == "__main__":
    print(admin_token())
