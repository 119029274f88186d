"""ICE servers for join answers: STUN as configured, and TURN with credentials minted
per participant in the time-limited form of the TURN REST API (draft-uberti-behave-
turn-rest), which coturn checks with ``use-auth-secret`` and ``static-auth-secret``:

- username: ``<expiry, unix seconds>:<participantId>``;
- credential: ``base64(HMAC-SHA1(secret, username))``.

The TURN server needs no call to the control plane: it recomputes the credential from
the username with the same secret and refuses it once the expiry has passed. The
secret itself never leaves the control plane (``Settings`` hides it from its repr).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

from ..config import Settings
from .node_tokens import with_media_access


def turn_credential(secret: str, participant_id: str, expires: int) -> tuple[str, str]:
    """``(username, credential)`` valid until ``expires`` (unix seconds)."""
    username = f"{int(expires)}:{participant_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: Settings, participant_id: str, now: float | None = None) -> list[dict]:
    """The ``iceServers`` of an ``RTCConfiguration`` for one participant: STUN URLs
    without credentials, TURN URLs with this participant's (none without a secret)."""
    servers: list[dict] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls and settings.turn_secret:
        # the TURN server checks expiry against its own wall clock
        expires = int(time.time() if now is None else now) + settings.turn_ttl
        username, credential = turn_credential(settings.turn_secret, participant_id, expires)
        servers.append({"urls": list(settings.turn_urls), "username": username,
                        "credential": credential})
    return servers


def join_answer(result: dict, settings: Settings) -> dict:
    """A join's result as the client gets it: its media grant signed (SFU rooms) and
    the ICE servers of its session (every room)."""
    return {**with_media_access(result, settings),
            "iceServers": ice_servers(settings, result["participantId"])}
