"""Room policy: defaults, validation and changes. Pure functions on plain dicts.

A policy is stored as a JSON-like dict with the API's camelCase keys, so the
event that records it and the view that shows it need no mapping.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

from chalicelib.domain.errors import InvalidPolicy

MEDIA_MODES = ("SFU", "P2P")
# an SFU node forwards to at most 64; a P2P mesh makes every peer upload n-1
# streams, which stops being usable beyond a handful of peers
MAX_PARTICIPANTS = {"SFU": 64, "P2P": 8}
# scheduled rooms close when empty for this long unless the policy says otherwise;
# persistent rooms never auto-close unless their policy says so
SCHEDULED_EMPTY_TIMEOUT_SECONDS = 300
MAX_EMPTY_TIMEOUT_SECONDS = 7 * 24 * 3600

BOOL_KEYS = ("waitingRoom", "hostRequired", "stageMode", "audioOnly", "hostsCanKickHosts")
KEYS = ("maxParticipants", "mediaMode", "autoClose", *BOOL_KEYS)
AUTO_CLOSE_KEYS = ("emptyTimeoutSeconds", "closeAt")


def default_policy(media_mode: str = "SFU", *, persistent: bool = False) -> dict[str, Any]:
    return {
        "maxParticipants": MAX_PARTICIPANTS.get(media_mode, 64),
        "waitingRoom": False,
        "hostRequired": False,
        "autoClose": {
            "emptyTimeoutSeconds": None if persistent else SCHEDULED_EMPTY_TIMEOUT_SECONDS,
            "closeAt": None,
        },
        "stageMode": False,
        "mediaMode": "SFU",
        "audioOnly": False,
        "hostsCanKickHosts": False,
    }


def initial_policy(given: dict | None, *, persistent: bool, now: datetime) -> dict[str, Any]:
    """The policy of a new room: the defaults with ``given`` applied."""
    given = _as_mapping(given or {})
    media_mode = given.get("mediaMode", "SFU")
    base = default_policy(media_mode if media_mode in MEDIA_MODES else "SFU", persistent=persistent)
    return apply_changes(base, given, now=now)


def apply_changes(policy: dict, changes: dict, *, now: datetime) -> dict[str, Any]:
    """Return a new, validated policy: ``policy`` with ``changes`` merged in.

    ``autoClose`` merges key by key. Raises :class:`InvalidPolicy` naming the field.
    """
    changes = _as_mapping(changes)
    new = copy.deepcopy(policy)
    for key, value in changes.items():
        if key not in KEYS:
            raise InvalidPolicy(f"unknown policy field {key!r}", field=key)
        if key == "autoClose":
            new["autoClose"] = _auto_close(new["autoClose"], value, now)
        elif key in BOOL_KEYS:
            if not isinstance(value, bool):
                raise InvalidPolicy(f"{key} must be true or false", field=key)
            new[key] = value
        elif key == "mediaMode":
            if value not in MEDIA_MODES:
                raise InvalidPolicy("mediaMode must be SFU or P2P", field=key)
            new[key] = value
        else:
            new[key] = value
    _check_capacity(new)
    return new


def diff(old: dict, new: dict) -> dict[str, Any]:
    """The top-level fields of ``new`` that differ from ``old``."""
    return {k: copy.deepcopy(v) for k, v in new.items() if old.get(k) != v}


def _check_capacity(policy: dict) -> None:
    value, mode = policy["maxParticipants"], policy["mediaMode"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPolicy("maxParticipants must be an integer", field="maxParticipants")
    limit = MAX_PARTICIPANTS[mode]
    if not 1 <= value <= limit:
        raise InvalidPolicy(
            f"maxParticipants must be between 1 and {limit} in {mode} mode",
            field="maxParticipants",
        )


def _auto_close(current: dict, value: Any, now: datetime) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPolicy("autoClose must be an object", field="autoClose")
    merged = dict(current)
    for key, item in value.items():
        field = f"autoClose.{key}"
        if key not in AUTO_CLOSE_KEYS:
            raise InvalidPolicy(f"unknown policy field {field!r}", field=field)
        if key == "emptyTimeoutSeconds" and item is not None:
            if isinstance(item, bool) or not isinstance(item, int):
                raise InvalidPolicy(f"{field} must be an integer or null", field=field)
            if not 1 <= item <= MAX_EMPTY_TIMEOUT_SECONDS:
                raise InvalidPolicy(
                    f"{field} must be between 1 and {MAX_EMPTY_TIMEOUT_SECONDS}", field=field
                )
        if key == "closeAt" and item is not None:
            item = parse_time(item, field, error=InvalidPolicy)
            if item <= now:
                raise InvalidPolicy(f"{field} must be in the future", field=field)
        merged[key] = item
    return merged


def parse_time(value: Any, field: str, *, error: type = InvalidPolicy) -> datetime:
    """An aware datetime from a datetime or an ISO-8601 string with an offset."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise error(f"{field} must be an ISO-8601 time", field=field) from None
    if not isinstance(value, datetime):
        raise error(f"{field} must be an ISO-8601 time", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise error(f"{field} must include a UTC offset", field=field)
    return value.astimezone(timezone.utc)


def _as_mapping(value: Any) -> dict:
    if not isinstance(value, dict):
        raise InvalidPolicy("policy must be an object", field="policy")
    return value
