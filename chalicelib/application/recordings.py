"""Use cases of recordings: hosts start and stop them, the room's node reports on them.

The recording's status is the room's history (``Recording*`` events, commands in
``domain/recordings.py``); the destination is looked up in its store when a recording
starts (``destination_not_found``) and again when the node asks where to write.
"""
from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from chalicelib.application.destinations import DestinationService
from chalicelib.application.nodes import NodeService
from chalicelib.application.views import recording_view
from chalicelib.domain.actor import SCHEDULER, Actor
from chalicelib.domain.errors import DestinationNotFound
from chalicelib.telemetry import metrics


class RecordingService:
    """What the recording routes call.

    :param nodes: the media nodes' use cases (the room's node, heartbeats).
    :param destinations: where recordings go.
    """

    def __init__(self, nodes: NodeService, destinations: DestinationService) -> None:
        self.nodes, self.rooms, self.destinations = nodes, nodes.rooms, destinations

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

    def sweep_lost(self, changes: list[dict], now: datetime) -> list[dict]:
        """After the tick failed recordings ``node_lost`` (its ``changes``): list what
        each one's node left in the destination, abort its unfinished uploads, and record
        that on the room (``RecordingLeftoversListed``). Returns one entry per recording."""
        rooms = {c["roomId"] for c in changes
                 if c.get("type") == "RecordingFailed" and c.get("reason") == "node_lost"}
        done = []
        for room_id in sorted(rooms):
            for recording in self.rooms.room(room_id).lost_node_recordings():
                rid = recording["recording_id"]
                try:
                    found = self.destinations.leftovers(recording["destination_id"], rid)
                except DestinationNotFound:
                    found = {"objects": [], "uploads": [],
                             "error": "the destination was deleted"}
                if found is None:
                    continue
                self.rooms.update_room(room_id, lambda r, at: r.list_leftovers(
                    SCHEDULER, rid, found, at=at), now)
                done.append({"roomId": room_id, "recordingId": rid,
                             "uploads": len(found["uploads"]), "error": found["error"]})
        return done

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
