"""Messages the node sends on a session's ``signaling`` data channel."""
from __future__ import annotations


def offer(sdp: str) -> dict:
    """A renegotiation offer; the client replies ``{"type": "answer", "sdp"}``."""
    return {"type": "offer", "sdp": sdp}


def muted(kind: str) -> dict:
    """The host muted this participant's ``kind``; the node stopped forwarding it."""
    return {"type": "muted", "kind": kind}


def unmuted(kind: str) -> dict:
    """Forwarding of ``kind`` resumed."""
    return {"type": "unmuted", "kind": kind}


def role_changed(role: str) -> dict:
    """The participant was promoted or demoted."""
    return {"type": "role", "role": role}


def closing(reason: str) -> dict:
    """The node is about to close this session (kicked, room closed, ...)."""
    return {"type": "bye", "reason": reason}


def tracks(carried: list[dict]) -> dict:
    """Which participant each m-line the node sends on carries, ``{mid, kind, participantId}``.

    Sent when the channel opens and before every node-driven offer: a released m-line
    is left out and may carry another participant after the next offer.
    """
    return {"type": "tracks", "tracks": carried}
