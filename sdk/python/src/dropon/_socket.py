"""The room socket's logic that the sync and async clients share: its URL, the cursor
that keeps ``events()`` gap-free and free of repeats across reconnects, what a refusal
means, and the join handshake. The clients only move bytes."""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

import jwt

from .errors import ConnectionFailed, DropOnError, error_for
from .models import Event

# close codes of a refused socket: 4000 + the HTTP status (docs/api.md, "Real-time events")
REFUSALS = range(4400, 4500)
RENEW_BEFORE = 30  # seconds: reconnect with a fresh token before the socket's expires


def socket_url(ws_url: str, room_id: str, token: str, after: int | None = None) -> str:
    """``<ws_url>/?roomId=..&token=..[&after=..]``."""
    query = {"roomId": room_id, "token": token}
    if after is not None:
        query["after"] = str(after)
    return ws_url.rstrip("/") + "/?" + urlencode(query)


def decode(text: str | bytes) -> dict:
    """A socket message as a dict (``{}`` for anything else)."""
    try:
        message = json.loads(text)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def refusal(code: int | None, reason: str | None) -> DropOnError | None:
    """The typed error of a socket the server closed as a refusal, else ``None``."""
    if code not in REFUSALS:
        return None
    error_code, _, message = (reason or "").partition(": ")
    return error_for(code - 4000, {"error": {"code": error_code or f"http_{code - 4000}",
                                             "message": message or reason or ""}})


def token_expiry(token: str) -> float | None:
    """The token's ``exp`` (read, not verified: the server verifies)."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.InvalidTokenError:
        return None
    return float(exp) if isinstance(exp, (int, float)) else None


@dataclass
class Follower:
    """The state of one ``events()`` iteration across its connections.

    ``after`` is the last ``seq`` yielded: each connection asks for what follows it, so
    a dropped socket misses nothing, and a ``seq`` at or below it is never yielded again.
    """

    room_id: str
    ws_url: str
    token_source: Callable[[], str]
    after: int | None = None
    renewable: bool = True  # the source signs a fresh token on each call
    max_failures: int = 10
    failures: int = 0
    deadline: float = field(default=float("inf"))
    clock: Callable[[], float] = time.time

    def connect_url(self) -> str:
        """The next connection's URL, with the source's token. A renewable (admin) token
        is replaced a little before it expires; a participant's is kept to its end, when
        the reconnection shows the refusal (``token_expired``). A token already past
        its deadline is read until the server answers."""
        token = self.token_source()
        expiry = token_expiry(token)
        deadline = (expiry - (RENEW_BEFORE if self.renewable else 0)) if expiry else None
        self.deadline = deadline if deadline and deadline > self.clock() else float("inf")
        return socket_url(self.ws_url, self.room_id, token, self.after)

    def recv_timeout(self) -> float | None:
        """How long the next read may wait before the token needs renewing."""
        if self.deadline == float("inf"):
            return None
        return max(0.0, self.deadline - self.clock())

    def expired(self) -> bool:
        """Whether the connection's token is near its end (reconnect: not an error)."""
        return self.clock() >= self.deadline

    def take(self, text: str | bytes) -> Event | None:
        """The event in a message, unless it is no event or one already yielded."""
        message = decode(text)
        seq = message.get("seq")
        if not isinstance(seq, int) or (self.after is not None and seq <= self.after):
            return None
        self.after, self.failures = seq, 0
        return Event.from_api(message)

    def closed(self, code: int | None, reason: str | None) -> float:
        """The socket closed: raise a refusal as its typed error, else the seconds to wait
        before reconnecting (a backoff, reset by the next event)."""
        error = refusal(code, reason)
        if error is not None:
            raise error
        return self.failed(f"the socket closed ({code} {reason or ''})".strip())

    def failed(self, why: str) -> float:
        """A connection failed (or dropped); the backoff, or :class:`ConnectionFailed`."""
        self.failures += 1
        if self.failures > self.max_failures:
            raise ConnectionFailed(f"room {self.room_id}: {why}; gave up after "
                                   f"{self.max_failures} attempts")
        return min(5.0, 0.1 * 2 ** (self.failures - 1))


class JoinHandshake:
    """Join over the room socket: send ``{"action": "join"}``, then read until both the
    ``REPLY`` (the join answer, with the media grant) and the caller's own
    ``GROUP_CALL_JOINED`` (its ``callId``) have come; a session put in the waiting room
    is done at its ``REPLY`` unless told to wait for the host's answer."""

    def __init__(self, wait_for_admission: bool = False):
        self.request_id = secrets.token_hex(8)
        self.wait_for_admission = wait_for_admission
        self.answer: dict | None = None
        self.event: dict | None = None
        self.admitted = False

    def command(self) -> str:
        """The message to send once the socket is open."""
        return json.dumps({"action": "join", "requestId": self.request_id})

    def feed(self, text: str | bytes) -> bool:
        """Take one message; ``True`` when the join is settled. Raises the join's typed
        error (``room_full``, ``banned``, ...) or :class:`DropOnError` ``denied``."""
        message = decode(text)
        kind, data = message.get("type"), message.get("data") or {}
        if message.get("requestId") == self.request_id:
            if kind == "ERROR":
                raise error_for(None, {"error": {"code": message.get("code"),
                                                 "message": message.get("message")}})
            if kind == "REPLY":
                self.answer = data
        elif kind == "GROUP_CALL_JOINED":
            self.event, self.admitted = message, bool(data.get("admitted"))
        elif kind in ("DENIED", "KICKED") and self.answer and \
                data.get("participantId") == self.answer.get("participantId"):
            raise DropOnError(f"the host answered {kind}", code=kind.lower())
        if self.answer is None:
            return False
        waiting = self.answer.get("status") == "waiting"
        return self.event is not None or (waiting and not self.wait_for_admission)


def socket_closed_error(room_id: str, code: int | None, reason: str | None) -> DropOnError:
    """What a socket closed during a join means: its refusal, or a lost connection."""
    return refusal(code, reason) or ConnectionFailed(
        f"room {room_id}: the socket closed during the join ({code} {reason or ''})")


def close_of(exc) -> tuple[int | None, str | None]:
    """``(code, reason)`` of a ``websockets`` ``ConnectionClosed``."""
    frame = getattr(exc, "rcvd", None)
    return (frame.code, frame.reason) if frame is not None else (1006, "connection lost")
