"""What each route accepts: its body fields and query parameters, checked before any use case.

Each function returns the keyword arguments of one ``RoomsApplication`` call.
"""
from __future__ import annotations

import re
from urllib.parse import unquote

from ..domain.room import MAX_NAME_LENGTH as NAME_MAX, SLUG
from ..domain.roster import ROLES  # the roles a token may carry
from .errors import ApiError, bad_request
from .fields import Fields, known_query, query_int, query_text, query_timestamp

IDENTITY = re.compile(r"^[A-Za-z0-9._@+:\-]{1,128}$")
# a leave's reason is a short code (left, silent, ...) kept in events and records; the
# room refuses longer ones (domain.roster). A close's reason is a slug (domain.room).
REASON_MAX = 64
CLOSE_REASON_MAX = 40
# the notification id of the last room of a page (at most 2**63 - 1: 19 digits)
CURSOR = re.compile(r"^[0-9]{1,19}$")
MAX_SEQ = 2 ** 53


def create_room(body: dict) -> dict:
    f = Fields(body)
    args = dict(name=f.text("name", required=True, max_len=NAME_MAX),
                policy=f.obj("policy") or {}, metadata=f.obj("metadata") or {},
                starts_at=f.timestamp("startsAt"), ends_at=f.timestamp("endsAt"),
                persistent=f.boolean("persistent", default=False))
    f.done()
    return args


def list_rooms(query: dict) -> dict:
    known_query(query, {"limit", "cursor"})
    cursor = query_text(query, "cursor")
    if cursor is not None and not CURSOR.match(cursor):
        raise bad_request("invalid_parameter", "cursor must be a nextCursor this API returned")
    return dict(limit=query_int(query, "limit", lo=1, hi=100, default=20), cursor=cursor)


def room_version(query: dict) -> dict:
    known_query(query, {"version", "at"})
    version = query_int(query, "version", lo=1, hi=MAX_SEQ, default=None)
    at = query_timestamp(query, "at")
    if version is not None and at is not None:
        raise bad_request("invalid_parameter", "give version or at, not both")
    return dict(version=version, at=at)


def policy_changes(body: dict) -> dict:
    if not body:
        raise ApiError("missing_field", "the body must name at least one policy field", 422)
    return body


def reason(body: dict, default: str) -> str:
    f = Fields(body)
    text = f.text("reason", max_len=REASON_MAX, default=default)
    f.done()
    return text


def close_reason(body: dict) -> str:
    text = reason(body, "host_ended")
    if len(text) > CLOSE_REASON_MAX or not SLUG.match(text):
        raise ApiError("invalid_field", "reason: a lowercase letter, then up to "
                       f"{CLOSE_REASON_MAX - 1} of a-z, 0-9 and _", 422)
    return text


def empty(body: dict) -> None:
    Fields(body).done()


def identity(value, field: str = "identity") -> str:
    if not isinstance(value, str) or not IDENTITY.match(value):
        raise ApiError("invalid_field",
                       f"{field}: 1 to 128 of letters, digits and . _ @ + : -", 422)
    return value


def path_identity(value: str) -> str:
    return identity(unquote(value) if "%" in value else value)


def token_grant(body: dict, settings) -> dict:
    f = Fields(body)
    grant = dict(identity=identity(f.value("identity", required=True)),
                 role=f.text("role", required=True, max_len=32),
                 ttl_seconds=f.integer("ttlSeconds", lo=1, hi=settings.participant_token_max_ttl,
                                       default=settings.participant_token_default_ttl),
                 replace=f.boolean("replace", default=False))
    f.done()
    if grant["role"] not in ROLES:
        raise ApiError("invalid_field", f"role: one of {', '.join(ROLES)}", 422)
    return grant


def mute(body: dict) -> dict:
    f = Fields(body)
    args = dict(audio=f.boolean("audio", default=True), video=f.boolean("video", default=False),
                muted=f.boolean("muted", default=True))
    f.done()
    if not (args["audio"] or args["video"]):
        raise ApiError("invalid_field", "audio or video must be true", 422)
    return args


def events_query(query: dict, max_wait: int) -> dict:
    known_query(query, {"after", "limit", "wait"})
    return dict(after=query_int(query, "after", lo=0, hi=MAX_SEQ, default=0),
                limit=query_int(query, "limit", lo=1, hi=1000, default=100),
                wait=query_int(query, "wait", lo=0, hi=max_wait, default=0))
