"""Media tokens minted as the control plane mints them, for tests, tools and benchmarks.

The node itself only verifies media tokens (:mod:`media_node.signaling.tokens`).
"""
from __future__ import annotations

import time

import jwt

from media_node.signaling.tokens import ISSUER


def mint_media_token(
    secret: str,
    node_id: str,
    room: str,
    participant_id: str,
    role: str,
    identity: str | None = None,
    call_id: str | None = None,
    ttl: int = 600,
    audio_only: bool | None = None,
    seq: int | None = None,
) -> str:
    """Mint a media token as the control plane would (tests, tools and benchmarks).

    ``audio_only`` and ``seq`` left ``None`` leave their claims out, as tokens minted
    before those claims existed did.
    """
    now = int(time.time())
    extra = {name: value for name, value in (("audioOnly", audio_only), ("seq", seq))
             if value is not None}
    return jwt.encode(
        {
            **extra,
            "iss": ISSUER,
            "aud": f"media:{node_id}",
            "sub": participant_id,
            "room": room,
            "identity": identity or participant_id,
            "role": role,
            "callId": call_id or f"call-{participant_id}",
            "iat": now,
            "exp": now + ttl,
        },
        secret,
        algorithm="HS256",
    )
