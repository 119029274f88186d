"""The development key of ``make run``: made once, private, replaced by the environment."""
import json

from devstack.devkey import load_or_create


def test_made_once_and_kept_private(tmp_path):
    path = tmp_path / "dev-key.json"
    first = load_or_create(path, environ={})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_or_create(path, environ={}) == first == json.loads(path.read_text())
    assert first["key"].startswith("dev-") and len(first["secret"]) >= 32


def test_environment_replaces_it(tmp_path):
    key = load_or_create(tmp_path / "k.json",
                         environ={"DROPON_API_KEY": "prod-1", "DROPON_API_SECRET": "s3"})
    assert (key["key"], key["secret"]) == ("prod-1", "s3")


def test_a_key_file_from_before_webhooks_gets_a_webhook_key_and_keeps_the_rest(tmp_path):
    from cryptography.fernet import Fernet
    path = tmp_path / "dev-key.json"
    path.write_text(json.dumps({"key": "dev-1", "secret": "s" * 32, "nodeSecret": "n" * 32}))
    key = load_or_create(path, environ={})
    assert (key["key"], key["secret"], key["nodeSecret"]) == ("dev-1", "s" * 32, "n" * 32)
    Fernet(key["webhookKey"])  # a usable Fernet key
    assert load_or_create(path, environ={}) == key
