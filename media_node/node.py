"""The media node: rooms, sessions, and the single entry point for room events."""
from __future__ import annotations

import asyncio
import logging
import secrets

from .config import NodeConfig, recording_dir
from .control.client import ControlPlane
from .control.events import event_payload, muted_kinds
from .ecs.protection import NoTaskProtection, TaskProtection
from .errors import Conflict, Forbidden, NotFound, Unauthorized, Unavailable
from .ice.binding import IceBinding
from .recording.recordings import RECORDING_EVENTS, Recordings
from .sfu.liveness import ReceiveLiveness
from .sfu.room import Room
from .sfu.session import Session
from .signaling.sdp import sends_media
from .signaling.tokens import MediaClaims, verify_media_token
from .telemetry.logs import bind_contextvars, bound_contextvars

logger = logging.getLogger(__name__)


class MediaNode:
    """Owns every room, session and background task of one node process.

    :param config: node configuration.
    :param control_plane: where leaves are reported (standalone or HTTP).
    :param ice: where session sockets bind and what they announce (port range, NAT).
    :param recordings: the node's recordings (default: none can open sealed credentials).
    :param protection: told whether the node carries calls (ECS task scale-in protection).
    """

    def __init__(self, config: NodeConfig, control_plane: ControlPlane,
                 ice: IceBinding | None = None, recordings: Recordings | None = None,
                 protection: TaskProtection | None = None) -> None:
        self.config = config
        self.control_plane = control_plane
        self.ice = ice or IceBinding()
        self.rooms: dict[str, Room] = {}
        self.sessions: dict[str, Session] = {}
        self.liveness = ReceiveLiveness(config.silent_timeout, self._on_silent)
        self.recordings = recordings or Recordings(control_plane, None, recording_dir(config))
        self.protection = protection or NoTaskProtection()
        self.draining = False
        self._tasks: set[asyncio.Task] = set()

    def room(self, room_id: str) -> Room:
        """The room, created on first use with the default policy."""
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = Room(room_id)
            room.policy.max_participants = self.config.max_participants
            self.control_plane.watch_room(room_id, self.apply_room_event)
        return room

    def authenticate(self, token: str, room_id: str | None = None) -> MediaClaims:
        """Verify a bearer media token, optionally for a given room."""
        claims = verify_media_token(token, self.config.node_secret, self.config.node_id)
        if room_id is not None and claims.room != room_id:
            raise Unauthorized("wrong_room", "token is for another room")
        return claims

    async def join(self, room_id: str, token: str, offer_sdp: str) -> tuple[Session, str]:
        """Admit a participant and answer their offer (WHIP/WHEP POST)."""
        claims = self.authenticate(token, room_id)
        bind_contextvars(roomId=room_id, participantId=claims.participant_id)
        if self.draining:  # the client asks the control plane for another node
            raise Unavailable("node_draining", "this node is shutting down; ask for media again")
        room = self.room(room_id)
        # a room that moved away and came back is followed again (idempotent)
        self.control_plane.watch_room(room_id, self.apply_room_event)
        room.check_admit(claims)
        room.set_audio_only(claims.audio_only, claims.seq)  # unless the feed told newer
        role = room.role_of(claims)
        if role == "audience" and sends_media(offer_sdp):
            raise Forbidden("audience_cannot_publish", "audience offers must be receive-only")
        previous = room.sessions.get(claims.participant_id)
        if previous is not None:  # a reconnect replaces the old connection
            await self._end(previous, "replaced", report=False)
        session = Session(secrets.token_urlsafe(18), claims, room,
                          self.config.ice_loopback_only, self._on_session_end,
                          direct=self.config.forwarding == "direct", ice=self.ice)
        session.role = role
        session.pc.on("connectionstatechange", lambda: self._on_connection_state(session))
        self.sessions[session.id] = session
        room.sessions[claims.participant_id] = session
        self.protection.busy(True)
        try:
            answer = await session.accept(offer_sdp, room.sources_for(claims.participant_id))
        except Exception as exc:
            await self._end(session, getattr(exc, "code", "bad_offer"), report=False)
            raise
        self._spawn(self._watch_connect(session))
        return session, answer

    def session(self, session_id: str, token: str) -> Session:
        """Look up a session its own participant is addressing."""
        session = self.sessions.get(session_id)
        if session is None:
            raise NotFound("session_not_found", "no such session")
        claims = self.authenticate(token, session.room.id)
        if claims.participant_id != session.participant_id:
            raise Forbidden("not_your_session", "token is for another participant")
        return session

    async def leave(self, session_id: str, token: str) -> None:
        """The participant hung up (WHIP DELETE)."""
        await self._end(self.session(session_id, token), "left", report=False)

    async def apply_room_event(self, room_id: str, event: dict) -> None:
        """Apply one room event (from the control plane's feed or from a test)."""
        kind, fields = event_payload(event)
        room = self.room(room_id)
        if isinstance(fields.get("seq"), int):
            room.last_seq = max(room.last_seq, fields["seq"])
        pid = str(fields.get("participantId", ""))
        if kind in ("ParticipantMuted", "ParticipantUnmuted"):
            room.mute(pid, muted_kinds(fields), kind == "ParticipantMuted")
        elif kind == "ParticipantKicked":
            room.kicked.add(pid)
            await self._end_participant(room, pid, "kicked")
        elif kind == "ParticipantLeft":
            room.departed.add(pid)
            await self._end_participant(room, pid, "left")
        elif kind == "ParticipantPromoted":
            room.set_role(pid, str(fields.get("role", "speaker")))
        elif kind == "ParticipantDemoted":
            room.set_role(pid, "audience")
        elif kind == "PolicyChanged":
            seq = fields.get("seq")
            room.apply_policy(dict(fields.get("policy", fields)),
                              seq if isinstance(seq, int) else None)
        elif kind in RECORDING_EVENTS:
            await self.recordings.apply(room, kind, fields)
        elif kind == "RoomClosed":
            room.closed = True
            await self.recordings.room_closed(room)
            for participant in list(room.sessions):
                await self._end_participant(room, participant, "room_closed")
            self.control_plane.unwatch_room(room_id)
        else:
            logger.debug("room %s: ignoring event %s", room_id, kind)

    async def _end_participant(self, room: Room, participant_id: str, reason: str) -> None:
        session = room.sessions.get(participant_id)
        if session is not None:
            session.notify({"type": "bye", "reason": reason})
            await self._end(session, reason, report=False)

    def _on_session_end(self, session: Session, reason: str) -> None:
        self._spawn(self._end(session, reason, report=True))

    def _on_connection_state(self, session: Session) -> None:
        # silence counts from the connection on; before it, _watch_connect decides
        if session.pc.connectionState == "connected" and not session.closed:
            self.liveness.watch(session)

    def _on_silent(self, session: Session) -> None:
        self._spawn(self._end(session, "silent", report=True))

    async def _end(self, session: Session, reason: str, report: bool) -> None:
        if session.closed:
            return
        self.sessions.pop(session.id, None)
        self.liveness.forget(session)
        room = session.room
        if room.sessions.get(session.participant_id) is session:
            del room.sessions[session.participant_id]
        self.protection.busy(bool(self.sessions))
        await session.close()
        logger.info("session %s (%s) ended: %s", session.id, session.participant_id, reason)
        if report:
            try:
                await self.control_plane.report_disconnected(
                    room.id, session.participant_id, reason)
            except Exception as exc:  # reported again by the control plane's own timeout
                logger.warning("could not report leave of %s: %s", session.participant_id, exc)

    async def _watch_connect(self, session: Session) -> None:
        await asyncio.sleep(self.config.connect_timeout)
        if not session.closed and session.pc.connectionState != "connected":
            await self._end(session, "connect_timeout", report=True)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        """Pick up what the last run of this node left: recordings whose failed upload
        kept files on disk (their rooms are followed again, for ``retry-upload``)."""
        await self.recordings.restore(self.room)

    def stats(self) -> dict:
        """Load figures for the heartbeat."""
        return {
            "rooms": len(self.rooms),
            "participants": len(self.sessions),
            "streams": sum(len(r.sources) for r in self.rooms.values()),
            "draining": self.draining,
        }

    async def drain(self, budget: float) -> None:
        """Leave the fleet cleanly within ``budget`` s (SIGTERM, as ECS sends).

        Tells the control plane at once that this node is draining (it assigns no room
        here from then on, and moves this node's rooms on their next media request);
        stops every recording, whose files then upload; sends every session ``bye``
        ``node_draining`` and closes it without reporting a leave, so that participants
        stay in their rooms and reconnect through ``POST /rooms/{roomId}/media``; waits
        for the uploads until the budget is spent. A recording still uploading then
        leaves its files on this node's disk (gone with an ECS task) and the control
        plane fails it ``node_lost``.
        """
        if self.draining:
            return
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        logger.info("draining: %d rooms, %d sessions, %d recordings", len(self.rooms),
                    len(self.sessions), len(self.recordings.active))
        await self.control_plane.heartbeat_now()
        stopping = [asyncio.ensure_future(self._stop_recordings(room))
                    for room in list(self.rooms.values())]
        await asyncio.sleep(0)  # the recordings stop writing before their publishers go
        for session in list(self.sessions.values()):
            session.notify({"type": "bye", "reason": "node_draining"})
            await self._end(session, "node_draining", report=False)
        if stopping:
            _, pending = await asyncio.wait(stopping,
                                               timeout=max(deadline - loop.time(), 0.0))
            if pending:
                logger.error("drain budget of %.0f s spent with %d rooms' recordings still "
                             "uploading; their files stay on this node's disk", budget,
                             len(pending))
        await self.protection.release()  # nothing left to protect; ECS may stop the task
        logger.info("drained")

    async def _stop_recordings(self, room: Room) -> None:
        with bound_contextvars(roomId=room.id):
            await self.recordings.room_closed(room, "node_draining")

    async def close(self) -> None:
        """Close every session and cancel every task (shutdown)."""
        self.liveness.close()
        await self.recordings.close()
        for session in list(self.sessions.values()):
            await self._end(session, "node_shutdown", report=False)
        await self.protection.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
