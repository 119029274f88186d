"""Use cases of recordings: hosts start and stop them, the room's node reports on them.

The recording's status is the room's history (``Recording*`` events, commands in
``domain/recordings.py``); the destination is looked up in its store when a recording
starts (``destination_not_found``) and again when the node asks where to write.
"""
from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID, uuid4

from chalicelib.application.destinations import DestinationService
from chalicelib.application.nodes import NodeService
from chalicelib.application.views import recording_view
from chalicelib.domain.actor import SCHEDULER, Actor
from chalicelib.domain.errors import DestinationNotFound
from chalicelib.domain.leftovers import RETRYING, SweepSchedule, sweep_status
from chalicelib.telemetry import metrics

log = logging.getLogger(__name__)


class RecordingService:
    """What the recording routes call.

    :param nodes: the media nodes' use cases (the room's node, heartbeats).
    :param destinations: where recordings go.
    :param schedule: when a sweep of a lost node's leftovers that failed is tried again.
    """

    def __init__(self, nodes: NodeService, destinations: DestinationService,
                 schedule: SweepSchedule = SweepSchedule()) -> None:
        self.nodes, self.rooms, self.destinations = nodes, nodes.rooms, destinations
        self.schedule = schedule

    # hosts and admins

    def start(self, actor: Actor, room_id: str, *, destination_id: str, output: str,
              now: datetime) -> dict:
        self.destinations.get(destination_id)  # destination_not_found
        recording_id = str(uuid4())
        room = self.rooms.update_room(room_id, lambda r, at: r.start_recording(
            actor, recording_id=recording_id, destination_id=destination_id, output=output,
            at=at), now)
        return recording_view(room.recording(recording_id))

    def stop(self, actor: Actor, room_id: str, recording_id: str, now: datetime) -> dict:
        room = self.rooms.update_room(
            room_id, lambda r, at: r.stop_recording(actor, recording_id, at=at), now)
        return recording_view(room.recording(recording_id))

    def retry_upload(self, actor: Actor, room_id: str, recording_id: str,
                     now: datetime) -> dict:
        room = self.rooms.update_room(
            room_id, lambda r, at: r.retry_upload(actor, recording_id, at=at), now)
        return recording_view(room.recording(recording_id))

    def list(self, actor: Actor, room_id: str) -> list[dict]:
        room = self.rooms.room(room_id)
        room.check_host(actor)
        return [recording_view(r) for r in room.all_recordings()]

    def get(self, actor: Actor, room_id: str, recording_id: str) -> dict:
        room = self.rooms.room(room_id)
        room.check_host(actor)
        return recording_view(room.recording(recording_id))

    # the scheduled tick

    def sweep_leftovers(self, now: datetime) -> list[dict]:
        """List what lost nodes left in their recordings' destinations and abort their
        unfinished uploads (``RecordingLeftoversListed``): each recording failed
        ``node_lost`` once, then again on ``schedule`` while the store's error passes.
        Only the recordings the room index names, and only those due, are loaded.
        Returns one entry per sweep made."""
        done = []
        due = sorted((str(room_id), room_id, recording_id, attempts) for (
            room_id, recording_id), (attempts, last) in self.rooms.live_rooms.sweeps().items()
            if self.schedule.due(attempts, last, now))
        for _, room_id, recording_id, attempts in due:
            try:
                entry = self._sweep(room_id, recording_id, attempts, now)
            except Exception as error:  # one bad room must not stop the others
                log.exception("sweep failed for recording %s", recording_id)
                # counted as an attempt, so that it waits its turn rather than every tick
                self.rooms.live_rooms.swept(room_id, recording_id, attempts + 1, now)
                entry = {"error": getattr(error, "code", "internal_error")}
            if entry is not None:
                done.append({"roomId": str(room_id), "recordingId": recording_id, **entry})
        return done

    def _sweep(self, room_id: UUID, recording_id: str, attempts: int,
               now: datetime) -> dict | None:
        index = self.rooms.live_rooms
        recording = next((r for r in self.rooms.room(room_id).recordings_to_sweep()
                          if r["recording_id"] == recording_id), None)
        if recording is None:  # swept meanwhile, or not while a retry-upload is at work
            index.swept(room_id, recording_id, 0, None)
            return None
        last = recording.get("leftovers")
        attempt = 1 if last is None else max(attempts, last.get("attempts", 1)) + 1
        try:
            found = self.destinations.leftovers(recording["destination_id"], recording_id)
        except DestinationNotFound:
            found = {"objects": [], "uploads": [], "error": "the destination was deleted",
                     "retryable": False}
        if found is None:  # a store whose leftovers lapse by themselves
            index.swept(room_id, recording_id, 0, None)
            return None
        since = last["since"] if last is not None and last.get("since") else now
        room = self.rooms.update_room(room_id, lambda r, at: r.list_leftovers(
            SCHEDULER, recording_id, found, attempt=attempt,
            last_chance=self.schedule.last_chance(since, attempt, now), at=at), now)
        status = sweep_status(room.recording(recording_id)["leftovers"])
        index.swept(room_id, recording_id, attempt, now if status == RETRYING else None)
        return {"attempt": attempt, "status": status, "uploads": len(found["uploads"]),
                "error": found["error"]}

    # the room's media node

    def destination(self, node_id: str, room_id: str, recording_id: str) -> dict:
        """Where the node writes: the destination's settings and its sealed secrets."""
        self.nodes.check_room_node(node_id, room_id)
        recording = self.rooms.room(room_id).recording(recording_id)
        try:
            # with the status, so that a node replaying the room's feed skips what is over,
            # and the retries, so that a restarted node tells its own run from a retry
            return {**self.destinations.for_node(recording["destination_id"]),
                    "recordingStatus": recording["status"],
                    "recordingRetries": recording.get("retries", 0)}
        except DestinationNotFound:
            raise DestinationNotFound(recording["destination_id"], recording_id=recording_id,
                                      room_id=room_id) from None

    def report(self, node_id: str, room_id: str, recording_id: str, report: dict,
               now: datetime) -> dict:
        self.nodes.check_room_node(node_id, room_id)
        recorded = []  # whether this report was news (a retried one records nothing)

        def command(r, at):
            before = len(r.pending_events)
            r.report_recording(Actor("node", node_id), recording_id, report, at=at)
            recorded[:] = [len(r.pending_events) > before]

        room = self.rooms.update_room(room_id, command, now)
        if report.get("event") == "failed" and recorded == [True]:
            metrics.emit(metrics.RECORDINGS_FAILED, Reason=report.get("reason") or "failed")
        return recording_view(room.recording(recording_id))
