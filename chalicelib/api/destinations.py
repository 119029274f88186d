"""Routes of recording destinations (admin tokens), as a Blueprint.

``POST /destinations``, ``GET /destinations``, ``GET``/``DELETE /destinations/{id}`` and
``POST /destinations/{id}/verify``. Secrets in a body are handed to the application,
which seals them; no answer and no log line carries them.
"""
from __future__ import annotations

from chalice import Blueprint

from .. import bootstrap
from ..domain.destinations import SECRETS, SETTINGS, TYPES
from .fields import Fields, invalid
from .http import blueprint_route, created, current_request

destinations = Blueprint(__name__)
route = blueprint_route(destinations)
NAME_MAX, URL_MAX, SECRET_MAX = 1024, 2048, 8192


def destination_body(body: dict) -> tuple[str, dict, dict, bool]:
    """``(type, settings, secrets, verify)`` of a ``POST /destinations`` body."""
    f = Fields(body)
    verify = f.boolean("verify", default=False)
    kind = f.text("type", required=True, max_len=16)
    if kind not in TYPES:
        raise invalid("type", f"one of {', '.join(TYPES)}")
    settings = {}
    for name in SETTINGS[kind]:
        value = _setting(f, kind, name)
        if value is not None:
            settings[name] = value
    secrets = {name: _secret(f, kind, name) for name in SECRETS[kind]}
    secrets = {k: v for k, v in secrets.items() if v is not None}
    f.done()
    if kind == "azure" and len(secrets) > 1:
        raise invalid("accountKey", "give accountKey or sasToken, not both")
    return kind, settings, secrets, verify


def _setting(f: Fields, kind: str, name: str):
    required = name in ("bucket", "account", "container") or (kind, name) == ("s3", "region")
    if name == "forcePathStyle":
        return f.boolean(name)
    value = f.text(name, required=required, max_len=URL_MAX if name == "endpoint" else NAME_MAX)
    if name == "endpoint" and value is not None and not value.startswith(("http://", "https://")):
        raise invalid(name, "must be an http(s) URL")
    return value


def _secret(f: Fields, kind: str, name: str):
    if name != "credentials":
        return f.text(name, max_len=SECRET_MAX)
    value = f.obj(name)
    if value is None or kind == "gcs":  # a service account's JSON, as Google gives it
        if value is not None and not {"client_email", "private_key"} <= set(value):
            raise invalid(name, "a service account's JSON key (client_email, private_key)")
        return value
    keys = Fields(value, prefix="credentials.")
    credentials = {"accessKeyId": keys.text("accessKeyId", required=True, max_len=NAME_MAX),
                   "secretAccessKey": keys.text("secretAccessKey", required=True,
                                                max_len=SECRET_MAX)}
    token = keys.text("sessionToken", max_len=SECRET_MAX)
    if token is not None:
        credentials["sessionToken"] = token
    keys.done()
    return credentials


@route("/destinations", "POST")
def register():
    request = current_request()
    request.admin()
    kind, settings, secrets, verify = destination_body(request.body())
    return created(bootstrap.destinations().register(kind, settings, secrets, bootstrap.now(),
                                                      verify=verify))


@route("/destinations", "GET")
def list_destinations():
    current_request().admin()
    return {"destinations": bootstrap.destinations().list()}


@route("/destinations/{destinationId}", "GET")
def get_destination(destinationId):
    current_request().admin()
    return bootstrap.destinations().get(destinationId)


@route("/destinations/{destinationId}", "DELETE")
def delete_destination(destinationId):
    current_request().admin()
    bootstrap.destinations().delete(destinationId)
    return {"destinationId": destinationId, "deleted": True}


@route("/destinations/{destinationId}/verify", "POST")
def verify(destinationId):
    request = current_request()
    request.admin()
    Fields(request.body()).done()
    return bootstrap.destinations().verify(destinationId)
