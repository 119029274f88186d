"""Peer-to-peer signaling in a P2P room: who may send what to whom.

A signal (an offer, an answer, an ICE candidate, a goodbye) is ephemeral: it is checked
against the room's current state, as ``views.room_view`` shows it, and relayed; it is
never an event of the room. No I/O here.

- The room is P2P (``not_p2p``).
- The sender's identity has a joined session (``not_joined``; a kicked, so banned,
  identity: ``banned``).
- The target is another joined session of the room (``participant_not_found``,
  ``peer_not_joined``).
- An offer's or an answer's SDP sends audio or video only if the sender may publish
  that kind (``cannot_send_media``): hosts and speakers, never video in an audio-only
  room. So an audience member of a stage room receives (it offers or answers
  ``recvonly``) but never sends. A server-side mute is not checked here: in a mesh it is
  a notice that the muted client enforces (``docs/rooms.md``).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import IdentityBanned, InvalidArgument, InvalidState, NotAllowed, ParticipantNotFound
from .roster import active_session

TYPES = ("offer", "answer", "candidate", "bye")
DESCRIPTIONS = ("offer", "answer")
SENDING = ("sendrecv", "sendonly")
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
CHECKED_KINDS = ("audio", "video")


@dataclass(frozen=True)
class Route:
    """Where one signal goes: from the sender's session to the target's."""

    room_id: str
    sender: str
    target: str
    target_identity: str


def check_signal(view: dict, identity: str, to: str, data: dict) -> Route:
    """The route of ``data`` from ``identity`` to participant ``to`` in the room ``view``
    (its current full view), or the domain error that refuses it."""
    room_id = view["id"]
    if view["policy"]["mediaMode"] != "P2P":
        raise InvalidState("signaling is for P2P rooms; this room's media goes through "
                           "its media node", code="not_p2p", room_id=room_id)
    if any(ban["identity"] == identity for ban in view["bans"]):
        raise IdentityBanned("this identity was removed from the room", room_id=room_id,
                             identity=identity)
    sender = active_session(view["participants"], identity)
    if sender is None or sender["state"] != "joined":
        raise InvalidState("only joined participants signal", code="not_joined",
                           room_id=room_id)
    if to == sender["id"]:
        raise InvalidArgument("a participant does not signal itself", field="to")
    target = next((p for p in view["participants"] if p["id"] == to), None)
    if target is None:
        raise ParticipantNotFound(to, room_id=room_id)
    if target["state"] != "joined":
        raise InvalidState(f"participant {to} is not in the call ({target['state']})",
                           code="peer_not_joined", room_id=room_id, participant_id=to)
    if data["type"] in DESCRIPTIONS:
        check_may_send(view, sender, sending_kinds(data["sdp"]))
    return Route(room_id, sender["id"], to, target["identity"])


def check_may_send(view: dict, sender: dict, kinds: set[str]) -> None:
    """Refuse a description that sends a kind of media the sender may not publish."""
    allowed = set(CHECKED_KINDS) if sender["role"] in ("host", "speaker") else set()
    if view["policy"]["audioOnly"]:
        allowed.discard("video")
    refused = sorted(kinds - allowed)
    if refused:
        who = "an audience member" if sender["role"] == "audience" else "this room"
        raise NotAllowed(f"{who} may not send {' or '.join(refused)}: offer or answer "
                         f"those m-lines recvonly or inactive", code="cannot_send_media",
                         participant_id=sender["id"], kind=",".join(refused))


def sending_kinds(sdp: str) -> set[str]:
    """The media kinds (audio, video) that ``sdp`` would send: an m-line whose direction
    (its own ``a=`` attribute, else the session's, else ``sendrecv`` as RFC 4566 says)
    sends, and whose port is not 0 unless it is ``bundle-only`` (still in use)."""
    kinds: set[str] = set()
    session_direction, section = "sendrecv", None

    def close(section):
        if section and section["kind"] in CHECKED_KINDS and section["active"] \
                and (section["direction"] or session_direction) in SENDING:
            kinds.add(section["kind"])

    for line in sdp.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if line.startswith("m="):
            close(section)
            parts = line[2:].split()
            port = parts[1].split("/")[0] if len(parts) > 1 else ""
            section = {"kind": parts[0].lower() if parts else "", "direction": None,
                       "active": port != "0"}
        elif line.startswith("a="):
            attribute = line[2:].strip().lower()
            if attribute in DIRECTIONS:
                if section is None:
                    session_direction = attribute
                else:
                    section["direction"] = attribute
            elif attribute == "bundle-only" and section is not None:
                section["active"] = True
    close(section)
    return kinds
