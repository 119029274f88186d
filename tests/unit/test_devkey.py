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
