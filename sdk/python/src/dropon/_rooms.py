"""The room calls both clients share, written once: each method builds a :class:`Spec`
and hands it to ``self._send``, which the sync client runs at once and the async client
returns as an awaitable. So every method here is ``await``-ed on :class:`AsyncClient`."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ._transport import Spec, body, path, timestamp
from .models import Event, MediaGrant, Room, Token


def _room(data: dict) -> Room:
    return Room.from_api(data)


def events_page(data: dict) -> tuple[list[Event], int]:
    """The long poll's answer: its events and ``nextAfter``."""
    return [Event.from_api(e) for e in data.get("events", [])], data.get("nextAfter")


class RoomCalls:
    """Rooms, tokens, stage and host controls (``docs/api.md``, "Routes").

    Calls that take ``token=`` act with that participant token (a joined host's, say);
    without it they use the client's own admin token.
    """

    def _send(self, spec: Spec) -> Any:  # pragma: no cover - each client defines it
        raise NotImplementedError

    def _pages(self, page) -> Any:  # pragma: no cover
        raise NotImplementedError

    # rooms

    def create_room(self, *, policy: dict | None = None, name: str = "room",
                    persistent: bool | None = None, starts_at: datetime | str | None = None,
                    ends_at: datetime | str | None = None,
                    metadata: dict | None = None) -> Room:
        """Create a room (``POST /rooms``).

        Without ``starts_at``/``ends_at`` the room is persistent, so
        ``create_room(policy={"stageMode": True})`` is enough.

        :param policy: ``maxParticipants``, ``waitingRoom``, ``stageMode``, ``mediaMode``...
            (``docs/rooms.md``, "Policy").
        :param metadata: a JSON object every joined participant may read.
        """
        if persistent is None:
            persistent = starts_at is None and ends_at is None
        return self._send(Spec("POST", "/rooms", body(
            name=name, policy=policy, metadata=metadata, starts_at=timestamp(starts_at),
            ends_at=timestamp(ends_at), persistent=persistent), parse=_room))

    def get_room(self, room_id: str, *, token: str | None = None) -> Room:
        """The room as the token may read it (``GET /rooms/{roomId}``)."""
        return self._send(Spec("GET", path("/rooms/{}", room_id), token=token, parse=_room))

    def room_at(self, room_id: str, *, version: int | None = None,
                at: datetime | str | None = None, token: str | None = None) -> Room:
        """The room as it was: after event ``version``, or after the last event at or before
        ``at`` (the audit trail; admins and joined hosts only)."""
        if (version is None) == (at is None):
            raise ValueError("give version= or at=, one of them")
        return self._send(Spec("GET", path("/rooms/{}", room_id), token=token, parse=_room,
                               params={"version": version, "at": timestamp(at)}))

    def list_rooms(self, *, limit: int | None = None):
        """Every room, oldest first, fetched a page (``limit`` rooms) at a time as the
        iteration goes on (``GET /rooms``); ``async for`` on :class:`AsyncClient`."""
        def page(cursor):
            return Spec("GET", "/rooms", params={"limit": limit, "cursor": cursor},
                        parse=lambda d: ([_room(r) for r in d["rooms"]], d.get("nextCursor")))
        return self._pages(page)

    def update_policy(self, room_id: str, changes: dict | None = None, *,
                      token: str | None = None, **fields: Any) -> Room:
        """Change policy fields (``PATCH /rooms/{roomId}/policy``), given as a dict of the
        API's names or as keyword arguments (``update_policy(room, waitingRoom=True)``)."""
        return self._send(Spec("PATCH", path("/rooms/{}/policy", room_id),
                               {**(changes or {}), **fields}, token=token, parse=_room))

    def close_room(self, room_id: str, reason: str | None = None, *,
                   token: str | None = None) -> Room:
        """Close the room (``reason`` a slug, default ``host_ended``); everyone leaves."""
        return self._send(Spec("POST", path("/rooms/{}/close", room_id), body(reason=reason),
                               token=token, parse=_room))

    # tokens and the caller's own session

    def create_token(self, room_id: str, identity: str, role: str = "speaker", *,
                     ttl: int | None = None, replace: bool | None = None) -> Token:
        """A participant token for ``identity`` as ``role`` (host, speaker, audience),
        living ``ttl`` seconds (default 3600); ``replace`` lets it take over a session."""
        return self._send(Spec("POST", path("/rooms/{}/tokens", room_id), body(
            identity=identity, role=role, ttl_seconds=ttl, replace=replace),
            parse=Token.from_api))

    def media_grant(self, room_id: str, token: str) -> MediaGrant:
        """A fresh media grant for the participant's joined SFU session
        (``POST /rooms/{roomId}/media``); retried while no media node is up."""
        return self._send(Spec("POST", path("/rooms/{}/media", room_id), token=token,
                               parse=lambda d: MediaGrant.from_api(d["media"])))

    def leave_room(self, room_id: str, token: str, reason: str | None = None) -> Room:
        """End the participant's session (``POST /rooms/{roomId}/leave``)."""
        return self._send(Spec("POST", path("/rooms/{}/leave", room_id), body(reason=reason),
                               token=token, parse=_room))

    def raise_hand(self, room_id: str, token: str) -> Room:
        """Raise the participant's own hand (``POST /rooms/{roomId}/hand``)."""
        return self._send(Spec("POST", path("/rooms/{}/hand", room_id), token=token,
                               parse=_room))

    def lower_hand(self, room_id: str, participant_id: str | None = None, *,
                   token: str | None = None) -> Room:
        """Lower a hand: with ``participant_id``, anyone's, as a host or admin; without it,
        the participant's own (``token`` required)."""
        if participant_id is None:
            if token is None:
                raise ValueError("lowering one's own hand needs the participant's token")
            return self._send(Spec("DELETE", path("/rooms/{}/hand", room_id), token=token,
                                   parse=_room))
        return self._control(room_id, participant_id, "lower-hand", token)

    # host controls

    def _control(self, room_id: str, participant_id: str, command: str,
                 token: str | None, payload: dict | None = None) -> Room:
        return self._send(Spec("POST", path("/rooms/{}/participants/{}/" + command, room_id,
                                            participant_id), payload, token=token, parse=_room))

    def admit(self, room_id: str, participant_id: str, *, token: str | None = None) -> Room:
        """Let a waiting participant in."""
        return self._control(room_id, participant_id, "admit", token)

    def deny(self, room_id: str, participant_id: str, *, token: str | None = None) -> Room:
        """Turn a waiting participant away."""
        return self._control(room_id, participant_id, "deny", token)

    def promote(self, room_id: str, participant_id: str, *, token: str | None = None) -> Room:
        """Bring an audience member on stage as a speaker (stage mode)."""
        return self._control(room_id, participant_id, "promote", token)

    def demote(self, room_id: str, participant_id: str, *, token: str | None = None) -> Room:
        """Send a speaker back to the audience (stage mode)."""
        return self._control(room_id, participant_id, "demote", token)

    def kick(self, room_id: str, participant_id: str, *, token: str | None = None) -> Room:
        """End a participant's session and ban the identity until :meth:`lift_ban`."""
        return self._control(room_id, participant_id, "kick", token)

    def mute(self, room_id: str, participant_id: str, *, audio: bool = True,
             video: bool = False, muted: bool = True, token: str | None = None) -> Room:
        """Mute (or with ``muted=False`` unmute) a participant's audio and/or video; the
        media node enforces it."""
        return self._control(room_id, participant_id, "mute", token,
                             {"audio": audio, "video": video, "muted": muted})

    def lift_ban(self, room_id: str, identity: str, *, token: str | None = None) -> Room:
        """Let a kicked identity join again (``DELETE /rooms/{roomId}/bans/{identity}``)."""
        return self._send(Spec("DELETE", path("/rooms/{}/bans/{}", room_id, identity),
                               token=token, parse=_room))

    # reading

    def room_events(self, room_id: str, after: int = 0, *, limit: int | None = None,
                    wait: int | None = None, token: str | None = None):
        """One page of the room's stored events after ``after`` (the long poll,
        ``GET /rooms/{roomId}/events``): ``(events, next_after)``. To follow the room live
        use :meth:`events`."""
        return self._send(Spec("GET", path("/rooms/{}/events", room_id), token=token,
                               params={"after": after, "limit": limit, "wait": wait},
                               parse=events_page))

    def list_nodes(self) -> list[dict]:
        """The media nodes and their load (``GET /nodes``)."""
        return self._send(Spec("GET", "/nodes", parse=lambda d: d["nodes"]))
