"""Recordings of a room: start, stop, the media node's reports, retry, a lost node.

A mixin of :class:`chalicelib.domain.room.Room`. A recording's status moves one way:
``starting`` -> ``recording`` -> ``stopping`` -> ``uploading`` -> ``completed`` or
``failed`` (a stop may come before the node starts writing; ``failed`` may follow any
status that is not terminal). The one way back is an explicit retry of a failed upload,
which returns the recording to ``uploading``. A report the recording has already taken
changes nothing, so a node may repeat a report whose answer it did not get.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain import events as ev
from chalicelib.domain import leftovers
from chalicelib.domain.actor import Actor
from chalicelib.domain.errors import InvalidArgument, InvalidState, RecordingNotFound

OUTPUTS = ("per-track", "composite")
ORDER = ("starting", "recording", "stopping", "uploading")
ACTIVE = ORDER  # a node is working on it
LIVE = ("starting", "recording")  # media is still being written
TERMINAL = ("completed", "failed")
REPORTS = ("recording", "uploading", "uploaded", "completed", "failed")


def invalid_state(recording: dict, report: str) -> InvalidState:
    return InvalidState(f"a {recording['status']} recording cannot take {report!r}",
                        code="invalid_recording_state", recording_id=recording["recording_id"])


class RecordingCommands:
    def recording(self, recording_id: str) -> dict[str, Any]:
        try:
            return ev.recordings(self)[recording_id]
        except (KeyError, TypeError):
            raise RecordingNotFound(recording_id, room_id=self.id) from None

    def start_recording(self, actor: Actor, *, recording_id: str, destination_id: str,
                        output: str, at: datetime) -> None:
        at = self._time(at)
        self.check_not_closed(at)
        self.check_host(actor)
        if output not in OUTPUTS:
            raise InvalidArgument("output must be per-track or composite", field="output")
        if self.policy["mediaMode"] != "SFU":
            raise InvalidState("only SFU rooms are recorded", code="not_sfu", room_id=self.id)
        if recording_id in ev.recordings(self):
            raise InvalidState("recording id in use", code="duplicate_recording_id")
        running = [r for r in ev.recordings(self).values()
                   if r["output"] == output and r["status"] in LIVE]
        if running:
            raise InvalidState(f"a {output} recording is already running",
                               code="recording_in_progress", room_id=self.id,
                               recording_id=running[0]["recording_id"])
        self._trigger(ev.RecordingStarted, actor, at, recording_id=recording_id,
                      output=output, destination_id=destination_id)

    def stop_recording(self, actor: Actor, recording_id: str, *, at: datetime) -> None:
        """Stop writing; a recording already stopped (or ended) stays as it is."""
        at = self._time(at)
        self.check_host(actor)
        if self.recording(recording_id)["status"] in LIVE:
            self._trigger(ev.RecordingStopped, actor, at, recording_id=recording_id,
                          reason="stopped")

    def stop_recordings(self, actor: Actor, reason: str, at: datetime) -> None:
        """Every recording still writing stops (the room is closing)."""
        for r in list(ev.recordings(self).values()):
            if r["status"] in LIVE:
                self._trigger(ev.RecordingStopped, actor, at,
                              recording_id=r["recording_id"], reason=reason)

    def retry_upload(self, actor: Actor, recording_id: str, *, at: datetime) -> None:
        at = self._time(at)
        self.check_host(actor)
        recording = self.recording(recording_id)
        if recording["status"] != "failed":
            raise invalid_state(recording, "retry-upload")
        self._trigger(ev.RecordingRetryRequested, actor, at, recording_id=recording_id)

    def report_recording(self, actor: Actor, recording_id: str, report: dict, *,
                         at: datetime) -> None:
        """The media node's report: ``{"event": ...}`` as in docs/api.md."""
        at = self._time(at)
        recording = self.recording(recording_id)
        kind = report.get("event")
        if kind not in REPORTS:
            raise InvalidArgument(f"event must be one of {', '.join(REPORTS)}", field="event")
        event = getattr(self, f"_on_{kind}")(recording, report)
        if event is not None:
            event_class, fields = event
            self._trigger(event_class, actor, at, recording_id=recording_id, **fields)

    def all_recordings(self) -> list[dict[str, Any]]:
        return list(ev.recordings(self).values())

    def fail_recordings_of_lost_node(self, live_nodes: set[str], at: datetime,
                                     actor: Actor) -> None:
        """A node that stopped sending heartbeats fails the recordings it was working on."""
        node = self.media_node and self.media_node["node_id"]
        if node is not None and node not in live_nodes:
            self.fail_recordings_of(node, actor, self._time(at))

    def fail_recordings_of(self, node: str, actor: Actor, at: datetime) -> None:
        """``node_lost``, with the files already reported, for every recording at work (the
        room's node is gone, or the room moves off it)."""
        for r in self.all_recordings():
            if r["status"] in ACTIVE:
                self._trigger(ev.RecordingFailed, actor, at, recording_id=r["recording_id"],
                              reason="node_lost", error=f"media node {node} was lost",
                              files=list(r["files"]))

    def recordings_to_sweep(self) -> list[dict[str, Any]]:
        """Recordings failed ``node_lost`` whose destination has not been swept yet, and
        those whose last sweep is to be retried."""
        return [r for r in self.all_recordings() if self._to_sweep(r)]

    def list_leftovers(self, actor: Actor, recording_id: str, found: dict, *,
                       attempt: int = 1, last_chance: bool = False, at: datetime) -> None:
        """Record a sweep of what a lost node left in the bucket (``found``: ``{objects,
        uploads, error, retryable}``): the first one, then a retry only when its outcome
        differs from the last one recorded, or gives up (``last_chance``). The recording
        keeps its status."""
        recording = self.recording(recording_id)
        last = recording.get("leftovers")
        if last is None and (recording["status"], recording["reason"]) != (
                "failed", "node_lost"):
            raise invalid_state(recording, "leftovers")
        if not self._to_sweep(recording):
            return  # swept, not to be retried, or not now
        after = leftovers.outcome(last, found, last_chance=last_chance)
        if last is not None and leftovers.same_outcome(last, after):
            return
        self._trigger(ev.RecordingLeftoversListed, actor, self._time(at),
                      recording_id=recording_id, attempts=attempt, **after)

    @staticmethod
    def _to_sweep(r: dict[str, Any]) -> bool:
        lost = r["status"] == "failed" and r["reason"] == "node_lost"
        if r.get("leftovers") is None:
            return lost
        # not while a retry-upload is at work, nor after one failed otherwise (the node
        # keeps its own uploads to abort then); a completed one left nothing of its own
        return (leftovers.sweep_status(r["leftovers"]) == leftovers.RETRYING
                and (lost or r["status"] == "completed"))

    # the reports: each returns the event to record, None if already taken, or raises

    def _on_recording(self, r: dict, report: dict):
        if r["status"] == "starting":
            return ev.RecordingWritingStarted, {}
        if r["status"] in ACTIVE:
            return None  # already past it
        raise invalid_state(r, "recording")

    def _on_uploading(self, r: dict, report: dict):
        if r["status"] == "stopping":
            return ev.RecordingUploadStarted, {}
        if r["status"] == "recording":  # the node stopped it itself: it is draining
            return ev.RecordingStopped, {"reason": "node_stopped"}
        if r["status"] == "uploading":
            return None
        raise invalid_state(r, "uploading")

    def _on_uploaded(self, r: dict, report: dict):
        file = report["file"]
        known = next((f for f in r["files"] if f["uri"] == file["uri"]), None)
        if known == file:
            return None
        if known is not None or r["status"] not in ("recording", "stopping", "uploading"):
            raise invalid_state(r, "uploaded")
        return ev.RecordingUploaded, {"file": file}

    def _on_completed(self, r: dict, report: dict):
        if r["status"] == "completed" and r["files"] == report["files"]:
            return None
        if r["status"] not in ("stopping", "uploading"):
            raise invalid_state(r, "completed")
        return ev.RecordingCompleted, {"files": report["files"]}

    def _on_failed(self, r: dict, report: dict):
        fields = {"reason": report["reason"], "error": report.get("error"),
                  "files": report["files"]}
        if r["status"] == "failed" and (r["reason"], r["error"], r["files"]) == (
                fields["reason"], fields["error"], fields["files"]):
            return None
        if r["status"] in TERMINAL:
            raise invalid_state(r, "failed")
        return ev.RecordingFailed, fields
