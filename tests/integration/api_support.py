"""An API under test: the Chalice app on a real event store, driven over its HTTP handler.

Each test module gets fresh tables (a unique prefix) and its own API key.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import boto3
from chalice.test import Client
from cryptography.fernet import Fernet

from chalicelib import bootstrap
from chalicelib.api.auth import mint_admin_token
from chalicelib.config import Settings, WebhookSettings

KEY, SECRET = "test-key", "test-secret-" + "x" * 24


def store_env(endpoint: str, **extra: str) -> dict:
    return {"PERSISTENCE_MODULE": "chalicelib.persistence.dynamodb",
            "DYNAMODB_TABLE_PREFIX": f"api{uuid4().hex[:10]}", "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1", "CREATE_TABLE": "y", **extra}


class Clock:
    """The application's clock; tests move it to reach scheduled times."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


class Api:
    """The app, wired to ``env``'s store, and a client that speaks JSON to it."""

    def __init__(self, env: dict, **settings):
        from app import app
        from chalicelib.application import RoomsApplication

        self.env, self.clock = env, Clock()
        self.settings = Settings(api_keys={KEY: SECRET}, **settings)
        self.rooms = RoomsApplication(env=env)
        bootstrap.configure(settings=self.settings, application=self.rooms, clock=self.clock)
        self.app, self.client = app, Client(app)
        self.admin = mint_admin_token(KEY, SECRET, 600)

    def close(self) -> None:
        bootstrap.reset()

    def call(self, method: str, path: str, body=None, token: str | None = "admin",
             headers: dict | None = None, raw: bytes | str | None = None):
        """One request; returns ``(status, parsed JSON body)``."""
        sent = {"content-type": "application/json", **(headers or {})}
        if token is not None:
            sent["authorization"] = f"Bearer {self.admin if token == 'admin' else token}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.client.http.request(method, path, headers=sent, body=payload or b"")
        return response.status_code, (json.loads(response.body) if response.body else None)

    def ok(self, method: str, path: str, body=None, token="admin", status=(200, 201)):
        code, data = self.call(method, path, body, token)
        assert code in ((status,) if isinstance(status, int) else status), (code, data)
        return data

    def error(self, method: str, path: str, body=None, token="admin", **kw):
        code, data = self.call(method, path, body, token, **kw)
        assert code >= 400 and set(data) == {"error"}, (code, data)
        assert {"code", "message"} <= set(data["error"]), data
        return code, data["error"]["code"]

    # conveniences of the user's story

    def create_room(self, **fields) -> dict:
        defaults = {"name": "room"} if "startsAt" in fields else {"name": "room", "persistent": True}
        return self.ok("POST", "/rooms", {**defaults, **fields}, status=201)

    def token(self, room_id: str, identity: str, role: str = "speaker", **extra) -> str:
        data = self.ok("POST", f"/rooms/{room_id}/tokens",
                       {"identity": identity, "role": role, **extra}, status=201)
        return data["token"]

    def join(self, room_id: str, identity: str, role: str = "speaker") -> tuple[str, dict]:
        token = self.token(room_id, identity, role)
        return token, self.ok("POST", f"/rooms/{room_id}/join", token=token)

    def events(self, room_id: str, after: int = 0) -> list:
        return self.events_as(room_id, "admin", after)

    def events_as(self, room_id: str, token: str, after: int = 0) -> list:
        return self.ok("GET", f"/rooms/{room_id}/events?after={after}&limit=1000",
                       token=token)["events"]


@contextmanager
def api_with_nodes(endpoint: str, node_secret: str):
    """An :class:`Api` on fresh tables whose every route works, as ``make run``'s: the
    media nodes' registry, the destinations (secrets sealed with a key of its own) and
    the webhooks (private addresses allowed: test receivers live on 127.0.0.1)."""
    env = store_env(endpoint)
    api = Api(env, node_secret=node_secret, store_env=env,
              secrets_key=Fernet.generate_key().decode())
    bootstrap.configure(node_registry=bootstrap.build_node_registry(env),
                        destination_store=bootstrap.build_destination_store(env),
                        webhook_settings=WebhookSettings(key=Fernet.generate_key().decode(),
                                                         allow_private=True))
    try:
        yield api
    finally:
        api.close()


def table_names(client) -> list[str]:
    """Every table's name (a ListTables page holds at most 100, and tests share the store)."""
    pages = client.get_paginator("list_tables").paginate()
    return [name for page in pages for name in page["TableNames"]]


def stored_items(env: dict) -> dict:
    """Every item in this API's tables, by table: what "nothing stored changed" compares."""
    client = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"],
                          region_name=env["AWS_REGION"])
    prefix = env["DYNAMODB_TABLE_PREFIX"] + "-"
    tables = [t for t in table_names(client) if t.startswith(prefix)]
    assert tables, f"no table starts with {prefix!r}: nothing would be compared"
    items = {}
    for table in tables:
        pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        rows = [item for page in pages for item in page["Items"]]
        items[table] = sorted(json.dumps(r, sort_keys=True, default=bytes.hex) for r in rows)
    return items


def soon(seconds: int = 60) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def wait_until(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
