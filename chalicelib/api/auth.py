"""Bearer JWTs (HS256, PyJWT), as LiveKit's access tokens.

- An admin token is signed by a server-side caller with its API secret: ``iss`` is the
  key id, ``exp`` is required and near. It carries no ``room`` claim.
- A participant token is minted by ``POST /rooms/{roomId}/tokens``, signed with the same
  secret: ``iss`` (key id), ``sub`` (identity), ``room``, ``role``, ``replace``, ``nbf``,
  ``exp``. It works only in its room.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from ..config import Settings
from ..domain.actor import Actor
from .errors import ApiError, forbidden, unauthorized
from .node_tokens import ALGORITHM, is_node_issuer, verify_node_token


@dataclass(frozen=True)
class Principal:
    """Who is calling, as proven by the bearer token."""

    kind: str  # an ``Actor`` kind: "api_key" (an admin token) | "participant" | "node"
    key_id: str
    identity: str | None = None
    room_id: str | None = None
    role: str | None = None
    replace: bool = False

    @property
    def is_admin(self) -> bool:
        """An admin token: signed by the caller with its API key."""
        return self.kind == "api_key"

    @property
    def actor(self) -> Actor:
        """The caller as the application knows it."""
        return Actor(self.kind, self.identity if self.kind == "participant" else self.key_id)


def bearer_token(headers) -> str:
    value = headers.get("authorization") if headers else None
    if not value:
        raise unauthorized("unauthorized", "missing Authorization: Bearer <jwt>")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("unauthorized", "Authorization must be 'Bearer <jwt>'")
    return token.strip()


def authenticate(headers, settings: Settings) -> Principal:
    """Verify the request's bearer JWT and say whom it names; ``ApiError`` (401) if not valid."""
    token = bearer_token(headers)
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError:
        raise unauthorized("unauthorized", "the bearer token is not a JWT") from None
    if is_node_issuer(issuer):  # a media node; refused by every room check
        return Principal("node", verify_node_token(token, settings.node_secret,
                                                   settings.token_leeway))
    secret = settings.api_keys.get(issuer) if isinstance(issuer, str) else None
    if secret is None:
        raise unauthorized("unauthorized", "the token's issuer is not a known API key")
    claims = _verify(token, secret, settings)
    if "room" not in claims:
        lifetime = claims["exp"] - time.time()
        if lifetime > settings.admin_token_max_ttl + settings.token_leeway:
            raise unauthorized("token_lifetime_too_long",
                               f"an admin token may live at most {settings.admin_token_max_ttl} s")
        return Principal("api_key", issuer)
    room, identity, role = claims.get("room"), claims.get("sub"), claims.get("role")
    if not all(isinstance(v, str) and v for v in (room, identity, role)):
        raise unauthorized("unauthorized", "a participant token needs room, sub and role")
    return Principal("participant", issuer, identity, room, role, claims.get("replace") is True)


def _verify(token: str, secret: str, settings: Settings) -> dict:
    try:
        return jwt.decode(token, secret, algorithms=[ALGORITHM], leeway=settings.token_leeway,
                          options={"require": ["exp", "iss"]})
    except jwt.ExpiredSignatureError:
        raise unauthorized("token_expired", "the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise unauthorized("token_not_yet_valid", "the token is not valid yet (nbf)") from None
    except jwt.InvalidTokenError:
        raise unauthorized("unauthorized", "the token is not valid") from None


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise forbidden("forbidden", "this call needs an API key (admin) token")


def require_room(principal: Principal, room_id: str) -> None:
    """Admins reach every room; a participant token only its own."""
    if not principal.is_admin and principal.room_id != room_id:
        raise forbidden("wrong_room", "the token is for another room")


def mint_participant_token(settings: Settings, key_id: str, *, room_id: str, identity: str,
                           role: str, ttl_seconds: int, replace: bool = False,
                           now: float | None = None) -> tuple[str, int]:
    """A participant token for one room, identity and role; returns it and its ``exp``."""
    secret = settings.api_keys.get(key_id)
    if secret is None:  # the key was removed since the caller's token was verified
        raise ApiError("unauthorized", "the API key is no longer configured", 401)
    issued = int(now if now is not None else time.time())
    exp = issued + ttl_seconds
    claims = {"iss": key_id, "sub": identity, "room": room_id, "role": role,
              "replace": replace, "iat": issued, "nbf": issued, "exp": exp}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), exp


def mint_admin_token(key_id: str, secret: str, ttl_seconds: int = 300,
                     now: float | None = None) -> str:
    """What a server-side caller does: sign a short-lived admin JWT with its API secret."""
    issued = int(now if now is not None else time.time())
    return jwt.encode({"iss": key_id, "iat": issued, "exp": issued + ttl_seconds},
                      secret, algorithm=ALGORITHM)
