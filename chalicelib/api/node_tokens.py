"""Node and media tokens (PyJWT, HS256 with ``DROPON_NODE_SECRET``), per docs/architecture.md.

Beside ``auth.py`` (API key and participant tokens): the edge checks node tokens and
signs media tokens for the grants the application decides (``MediaGrant``).

- A node token proves a media node: ``iss`` = ``node:<nodeId>``, ``exp`` within 5 minutes.
- A media token lets one participant connect to one node for one room: ``iss`` =
  ``dropon-control``, ``aud`` = ``media:<nodeId>``, ``sub`` = participant id, claims
  ``room``, ``identity``, ``role``, ``callId``, ``audioOnly`` (the room's policy, which
  the node enforces), ``seq`` (the room version that policy is as of), ``exp``.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import jwt

from ..application.nodes import MediaGrant
from ..config import Settings
from .errors import unauthorized

ALGORITHM = "HS256"
NODE_ISSUER_PREFIX = "node:"
MEDIA_ISSUER = "dropon-control"
NODE_TOKEN_MAX_TTL = 300
NODE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def is_node_issuer(issuer) -> bool:
    return isinstance(issuer, str) and issuer.startswith(NODE_ISSUER_PREFIX)


def verify_node_token(token: str, secret: str, leeway: int = 5) -> str:
    """The node id a valid node token proves; ``ApiError`` 401 otherwise."""
    if not secret:  # a control plane without a node secret trusts no node
        raise unauthorized("unauthorized", "media nodes are not configured")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], leeway=leeway,
                            options={"require": ["exp", "iss"]})
    except jwt.ExpiredSignatureError:
        raise unauthorized("token_expired", "the token has expired") from None
    except jwt.InvalidTokenError:
        raise unauthorized("unauthorized", "the node token is not valid") from None
    node_id = str(claims["iss"])[len(NODE_ISSUER_PREFIX):]
    if not is_node_issuer(claims["iss"]) or not NODE_ID.match(node_id):
        raise unauthorized("unauthorized", "the node token's issuer is not node:<nodeId>")
    if claims["exp"] - time.time() > NODE_TOKEN_MAX_TTL + leeway:
        raise unauthorized("token_lifetime_too_long",
                           f"a node token may live at most {NODE_TOKEN_MAX_TTL} s")
    return node_id


def mint_node_token(secret: str, node_id: str, ttl: int = 240) -> str:
    """What a media node presents (tests use it; the node has its own copy)."""
    now = int(time.time())
    return jwt.encode({"iss": NODE_ISSUER_PREFIX + node_id, "iat": now, "exp": now + ttl},
                      secret, algorithm=ALGORITHM)


def mint_media_token(secret: str, *, node_id: str, room_id: str, participant_id: str,
                     identity: str, role: str, call_id: str, audio_only: bool, seq: int,
                     ttl: int, now: float | None = None) -> tuple[str, int]:
    """A media token for one participant on one node; returns it and its ``exp``."""
    issued = int(now if now is not None else time.time())
    claims = {"iss": MEDIA_ISSUER, "aud": f"media:{node_id}", "sub": participant_id,
              "room": room_id, "identity": identity, "role": role, "callId": call_id,
              "audioOnly": audio_only, "seq": seq, "iat": issued, "exp": issued + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), issued + ttl


def media_access(grant: MediaGrant, settings: Settings) -> dict:
    """What a client needs to connect to its node: the node, the URL and a media token."""
    token, exp = mint_media_token(
        settings.node_secret, node_id=grant.node_id, room_id=grant.room_id,
        participant_id=grant.participant_id, identity=grant.identity, role=grant.role,
        call_id=grant.call_id, audio_only=grant.audio_only, seq=grant.seq,
        ttl=settings.media_token_ttl)
    # the node checks exp against its own wall clock, so the token uses the wall clock
    return {"nodeId": grant.node_id, "url": grant.url, "token": token,
            "expiresAt": datetime.fromtimestamp(exp, timezone.utc)}


def with_media_access(result: dict, settings: Settings) -> dict:
    """A join's result with its media grant, if any, signed."""
    grant = result["media"]
    return result if grant is None else {**result, "media": media_access(grant, settings)}
