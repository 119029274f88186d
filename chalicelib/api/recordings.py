"""Routes of a room's recordings, as a Blueprint.

Admins and the room's joined hosts start, stop, read and retry recordings; the room's
media node (node token) asks where a recording goes and reports what it did.
"""
from __future__ import annotations

from chalice import Blueprint

from .. import bootstrap
from ..domain.recordings import OUTPUTS
from .fields import Fields, invalid
from .http import blueprint_route, created, current_request
from .nodes import node_request

recordings = Blueprint(__name__)
route = blueprint_route(recordings)
BASE = "/rooms/{roomId}/recordings"
ONE = BASE + "/{recordingId}"
KINDS = ("audio", "video", "composite")
TEXT, URI_MAX, MAX_FILES, MAX_SEQ = 256, 2048, 500, 2 ** 53
MAX_CODECS, DURATION_MAX, ERROR_MAX = 8, 1e9, 2000


def start_body(body: dict) -> dict:
    f = Fields(body)
    args = {"destination_id": f.text("destinationId", required=True, max_len=TEXT),
            "output": f.text("output", required=True, max_len=32)}
    f.done()
    if args["output"] not in OUTPUTS:
        raise invalid("output", f"one of {', '.join(OUTPUTS)}")
    return args


def manifest_entry(value, name: str) -> dict:
    """One file of a manifest, as docs/api.md describes it."""
    if not isinstance(value, dict):
        raise invalid(name, "must be an object")
    f = Fields(value, prefix=name + ".")
    entry = {"uri": f.text("uri", required=True, max_len=URI_MAX),
             "bytes": f.integer("bytes", lo=0, hi=MAX_SEQ, required=True),
             "sha256": f.text("sha256", required=True, max_len=64),
             "etag": f.text("etag", required=True, max_len=TEXT),
             "durationSeconds": _number(f, "durationSeconds"),
             "kind": f.text("kind", required=True, max_len=16),
             "codecs": _codecs(f.value("codecs", required=True), name + ".codecs")}
    participant = f.text("participantId", max_len=TEXT)
    if participant is not None:
        entry["participantId"] = participant
    for stamp in ("startedAt", "endedAt"):
        f.timestamp(stamp, required=True)
        entry[stamp] = value[stamp]
    entry.update({seq: f.integer(seq, lo=0, hi=MAX_SEQ, required=True)
                  for seq in ("startSeq", "endSeq")})
    f.done()
    if entry["kind"] not in KINDS:
        raise invalid(name + ".kind", f"one of {', '.join(KINDS)}")
    if len(entry["sha256"]) != 64 or any(c not in "0123456789abcdef" for c in entry["sha256"]):
        raise invalid(name + ".sha256", "64 lowercase hex digits")
    return entry


def _number(f: Fields, name: str) -> float:
    value = f.value(name, required=True)
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 <= value < DURATION_MAX):
        raise invalid(f.prefix + name, "must be a non-negative number")
    return value


def _codecs(value, name: str) -> list:
    if (not isinstance(value, list) or not value or len(value) > MAX_CODECS
            or not all(isinstance(c, str) and 0 < len(c) <= 64 for c in value)):
        raise invalid(name, f"a list of 1 to {MAX_CODECS} codec names")
    return value


def _files(f: Fields) -> list:
    value = f.value("files", required=True)
    if not isinstance(value, list) or len(value) > MAX_FILES:
        raise invalid("files", f"a list of at most {MAX_FILES} files")
    return [manifest_entry(v, f"files[{i}]") for i, v in enumerate(value)]


def report_body(body: dict) -> dict:
    """A node's report: ``{"event": "recording" | "uploading" | "uploaded" | "completed" |
    "failed", ...}``."""
    f = Fields(body)
    event = f.text("event", required=True, max_len=32)
    report = {"event": event}
    if event == "uploaded":
        report["file"] = manifest_entry(f.value("file", required=True), "file")
    elif event == "completed":
        report["files"] = _files(f)
    elif event == "failed":
        report.update(reason=f.text("reason", required=True, max_len=64),
                      error=f.text("error", max_len=ERROR_MAX), files=_files(f))
    elif event not in ("recording", "uploading"):
        raise invalid("event", "one of recording, uploading, uploaded, completed, failed")
    f.done()
    return report


@route(BASE, "POST")
def start(roomId):
    request = current_request()
    request.in_room(roomId)
    args = start_body(request.body())
    return created(bootstrap.recordings().start(request.actor, roomId, **args,
                                                now=bootstrap.now()))


@route(BASE, "GET")
def list_recordings(roomId):
    request = current_request()
    request.in_room(roomId)
    return {"recordings": bootstrap.recordings().list(request.actor, roomId)}


@route(ONE, "GET")
def get_recording(roomId, recordingId):
    request = current_request()
    request.in_room(roomId)
    return bootstrap.recordings().get(request.actor, roomId, recordingId)


@route(ONE + "/stop", "POST")
def stop(roomId, recordingId):
    request = current_request()
    request.in_room(roomId)
    Fields(request.body()).done()
    return bootstrap.recordings().stop(request.actor, roomId, recordingId, bootstrap.now())


@route(ONE + "/retry-upload", "POST")
def retry_upload(roomId, recordingId):
    request = current_request()
    request.in_room(roomId)
    Fields(request.body()).done()
    return bootstrap.recordings().retry_upload(request.actor, roomId, recordingId,
                                               bootstrap.now())


@route(ONE + "/destination", "GET")
def destination(roomId, recordingId):
    _, node_id = node_request()
    return bootstrap.recordings().destination(node_id, roomId, recordingId)


@route(ONE + "/report", "POST")
def report(roomId, recordingId):
    request, node_id = node_request()
    # a manifest of MAX_FILES files does not fit the other routes' body limit
    body = request.body(request.settings.max_report_bytes)
    return bootstrap.recordings().report(node_id, roomId, recordingId, report_body(body),
                                         bootstrap.now())
