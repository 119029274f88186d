"""Media tokens (PyJWT, HS256), per docs/architecture.md: the node only verifies them.

The control plane mints them (chalicelib); tests and tools mint them with
:func:`media_node_dev.tokens.mint_media_token`.
"""
from __future__ import annotations

from dataclasses import dataclass

import jwt

from ..errors import Unauthorized

ISSUER = "dropon-control"
ROLES = ("host", "speaker", "audience")


@dataclass(frozen=True)
class MediaClaims:
    """What a verified media token grants.

    :param room: room id the token is valid for.
    :param participant_id: ``sub``; one live session per participant id.
    :param identity: the user's identity within the room.
    :param role: ``host``, ``speaker`` or ``audience``.
    :param call_id: the join this session belongs to.
    :param expires: ``exp`` in epoch seconds.
    :param audio_only: the room's ``audioOnly`` policy when the token was minted (false
        when the claim is absent: tokens minted before it existed).
    :param seq: the room's version (its last event's ``seq``) the claims reflect; 0 when
        absent. A room event with a higher ``seq`` is newer than the token's policy.
    """

    room: str
    participant_id: str
    identity: str
    role: str
    call_id: str
    expires: int
    audio_only: bool = False
    seq: int = 0

    @property
    def can_publish(self) -> bool:
        """Hosts and speakers publish; audience only receives."""
        return self.role in ("host", "speaker")


def verify_media_token(token: str, secret: str, node_id: str) -> MediaClaims:
    """Verify a media token presented to this node.

    :raises Unauthorized: bad signature, wrong audience or issuer, expired, or claims missing.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=f"media:{node_id}",
            issuer=ISSUER,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid_token", str(exc)) from None
    try:
        media = MediaClaims(
            room=str(claims["room"]),
            participant_id=str(claims["sub"]),
            identity=str(claims["identity"]),
            role=str(claims["role"]),
            call_id=str(claims["callId"]),
            expires=int(claims["exp"]),
            audio_only=claims.get("audioOnly", False),
            seq=claims.get("seq", 0),
        )
    except KeyError as exc:
        raise Unauthorized("invalid_token", f"missing claim {exc.args[0]}") from None
    if not isinstance(media.audio_only, bool):
        raise Unauthorized("invalid_token", "audioOnly must be true or false")
    if isinstance(media.seq, bool) or not isinstance(media.seq, int) or media.seq < 0:
        raise Unauthorized("invalid_token", "seq must be a non-negative integer")
    if media.role not in ROLES:
        raise Unauthorized("invalid_token", f"unknown role {media.role!r}")
    return media
