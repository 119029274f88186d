"""Settings of the control plane's HTTP edge, read once from the environment.

Nothing here is a secret that gets logged: ``Settings.__repr__`` hides the key secrets.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

# the event store's and the application's own variables, for ``RoomsApplication(env=...)``
STORE_VARIABLES = ("PERSISTENCE_MODULE", "CREATE_TABLE", "IS_SNAPSHOTTING_ENABLED",
                   "ORIGINATOR_ID_TYPE", "DROPON_SNAPSHOT_INTERVAL")
STORE_PREFIXES = ("DYNAMODB_", "AWS_", "ROOMSAPPLICATION_")


@dataclass(frozen=True)
class Settings:
    """What the API needs: its keys, limits and the event store's environment."""

    #: API key id -> HS256 secret; signs admin JWTs and participant tokens
    api_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: largest request body accepted, in bytes
    max_body_bytes: int = 64 * 1024
    #: largest recording report of a media node (a manifest of up to 500 files), in bytes
    max_report_bytes: int = 2 * 1024 * 1024
    #: clock skew tolerated when checking exp and nbf, in seconds
    token_leeway: int = 5
    #: an admin JWT may not live longer than this (it is meant to be short-lived)
    admin_token_max_ttl: int = 3600
    #: default and upper bound of a participant token's ttlSeconds
    participant_token_default_ttl: int = 3600
    participant_token_max_ttl: int = 24 * 3600
    #: longest long-poll of GET /rooms/{roomId}/events?wait=
    max_events_wait: int = 20
    #: HS256 secret shared with the media nodes (node and media tokens)
    node_secret: str = field(default="", repr=False)
    #: a node silent for longer than this is dead; its rooms move on the next join
    node_dead_after: float = 15.0
    #: lifetime of a media token (it is needed only to connect to the node)
    media_token_ttl: int = 300
    #: the recordings of a room whose node is silent this long fail with ``node_lost``
    recording_node_lost_after: float = 30.0
    #: a lost node's leftovers whose sweep failed for a reason that passes are swept
    #: again after this many s, doubling up to the cap; at most so many sweeps in all,
    #: none after the deadline (s from the first)
    recording_sweep_retry_base: float = 60.0
    recording_sweep_retry_cap: float = 4 * 3600.0
    recording_sweep_attempts: int = 30
    recording_sweep_deadline: float = 7 * 24 * 3600.0
    #: Fernet key sealing destinations' secrets (``make run``), unless a KMS key is set
    secrets_key: str = field(default="", repr=False)
    #: AWS KMS key (id, ARN or alias) sealing destinations' secrets when deployed
    kms_key_id: str = ""
    #: ICE servers every join answer carries (``api/ice_servers.py``): STUN URLs, TURN
    #: URLs and the secret shared with the TURN server (coturn's ``static-auth-secret``)
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = field(default="", repr=False)
    #: lifetime of a minted TURN credential, in seconds
    turn_ttl: int = 86400
    store_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        keys = {}
        if environ.get("DROPON_API_KEY") and environ.get("DROPON_API_SECRET"):
            keys[environ["DROPON_API_KEY"]] = environ["DROPON_API_SECRET"]
        return cls(
            api_keys=keys,
            max_body_bytes=int(environ.get("DROPON_MAX_BODY_BYTES", 64 * 1024)),
            max_report_bytes=int(environ.get("DROPON_MAX_REPORT_BYTES", 2 * 1024 * 1024)),
            admin_token_max_ttl=int(environ.get("DROPON_ADMIN_TOKEN_MAX_TTL", 3600)),
            node_secret=environ.get("DROPON_NODE_SECRET", ""),
            node_dead_after=float(environ.get("DROPON_NODE_DEAD_AFTER", 15)),
            media_token_ttl=int(environ.get("DROPON_MEDIA_TOKEN_TTL", 300)),
            recording_node_lost_after=float(environ.get("DROPON_RECORDING_NODE_LOST_AFTER", 30)),
            recording_sweep_retry_base=float(
                environ.get("DROPON_RECORDING_SWEEP_RETRY_BASE", 60)),
            recording_sweep_retry_cap=float(
                environ.get("DROPON_RECORDING_SWEEP_RETRY_CAP", 4 * 3600)),
            recording_sweep_attempts=int(environ.get("DROPON_RECORDING_SWEEP_ATTEMPTS", 30)),
            recording_sweep_deadline=float(
                environ.get("DROPON_RECORDING_SWEEP_DEADLINE", 7 * 24 * 3600)),
            secrets_key=environ.get("DROPON_SECRETS_KEY", ""),
            kms_key_id=environ.get("DROPON_KMS_KEY_ID", ""),
            stun_urls=ice_urls(environ.get("DROPON_STUN_URLS", ""), ("stun:", "stuns:")),
            turn_urls=ice_urls(environ.get("DROPON_TURN_URLS", ""), ("turn:", "turns:")),
            turn_secret=environ.get("DROPON_TURN_SECRET", ""),
            turn_ttl=int(environ.get("DROPON_TURN_TTL", 86400)),
            store_env={k: v for k, v in environ.items()
                       if k in STORE_VARIABLES or k.startswith(STORE_PREFIXES)},
        )


def ice_urls(value: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of ICE server URLs, each of one of ``schemes``; a wrong
    one stops the start-up rather than reaching clients."""
    urls = tuple(u.strip() for u in value.split(",") if u.strip())
    wrong = [u for u in urls if not u.lower().startswith(schemes)]
    if wrong:
        raise ValueError(f"ICE server URLs must start with {' or '.join(schemes)}: {wrong}")
    return urls


@dataclass(frozen=True)
class WebhookSettings:
    """The webhooks' routes and deliverer (docs/webhooks.md); the key never shows in repr."""

    #: Fernet key that seals endpoint secrets at rest; no key, no webhooks
    key: str = field(default="", repr=False)
    #: a delivery failing for this long (s) marks its endpoint failing
    max_age: float = 24 * 3600
    #: deliver to loopback, private and link-local addresses (local development)
    allow_private: bool = False
    #: first retry delay and the longest one (s)
    retry_base: float = 1.0
    retry_cap: float = 3600.0
    #: seconds a receiver has to answer
    timeout: float = 10.0
    #: deliveries in flight at once (one per endpoint and room at most)
    workers: int = 8
    #: seconds one run of the deliverer lasts (the scheduled Lambda's is shorter than its period)
    run_seconds: float = 50.0
    #: seconds between reads of the rooms' log when idle
    poll: float = 0.2

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "WebhookSettings":
        environ = os.environ if environ is None else environ
        number = lambda name, default: float(environ.get(name) or default)  # noqa: E731
        return cls(key=environ.get("DROPON_WEBHOOK_KEY", ""),
                   max_age=number("DROPON_WEBHOOK_MAX_AGE", 24 * 3600),
                   allow_private=environ.get("DROPON_WEBHOOKS_ALLOW_PRIVATE", "0").lower()
                   in ("1", "y", "yes", "true"),
                   retry_base=number("DROPON_WEBHOOK_RETRY_BASE", 1.0),
                   retry_cap=number("DROPON_WEBHOOK_RETRY_CAP", 3600.0),
                   timeout=number("DROPON_WEBHOOK_TIMEOUT", 10.0),
                   workers=int(number("DROPON_WEBHOOK_WORKERS", 8)),
                   run_seconds=number("DROPON_WEBHOOK_RUN_SECONDS", 50.0),
                   poll=number("DROPON_WEBHOOK_POLL", 0.2))
