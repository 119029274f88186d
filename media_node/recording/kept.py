"""Files a recording left on the node's disk, and a note that outlives the process.

While a recording runs, and after it fails with files kept, ``<spool>/<recordingId>.kept.json``
says which room it belongs to, which files already reached the bucket (the manifest so
far), the files being written (``live``: object name, spool, participant, kind, start;
a composite's kind is ``composite``, with no participant) and, once they failed to
upload, the kept files (object name, content type, sha256 and manifest entry). A node
that restarts reads these notes back (:func:`load_notes`): the files of a node that was
killed mid-recording are finished from their spools (:func:`salvage_live`), and
``retry-upload`` sends them all. The note goes once the recording completes. Blocking:
call these off the loop.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import av

from ..storage.base import ObjectUpload
from ..storage.errors import StorageError
from .remux import FORMATS, salvage, salvage_fragments
from .track_writer import iso, remove_spool

logger = logging.getLogger(__name__)
SUFFIX = ".kept.json"
COMPOSITE_TYPE = "video/mp4"  # also an audio-only composite's, as when it streams


@dataclass
class KeptFile:
    """One finished file whose upload failed: its spool stays until it is uploaded.

    :param upload: the failed upload, while this process still holds it (an S3
        multipart upload that could not be aborted yet); never saved.
    :param error: why its last upload failed; never saved.
    """

    name: str
    path: str
    content_type: str
    sha256: str
    entry: dict
    upload: ObjectUpload | None = field(default=None, compare=False)
    error: StorageError | None = field(default=None, compare=False)

    def as_note(self) -> dict:
        return {"name": self.name, "path": self.path, "contentType": self.content_type,
                "sha256": self.sha256, "entry": self.entry}

    @classmethod
    def from_note(cls, note: dict) -> "KeptFile":
        return cls(note["name"], note["path"], note["contentType"], note["sha256"],
                   note["entry"])


def note_path(spool_dir: str, recording_id: str) -> str:
    return os.path.join(spool_dir, recording_id + SUFFIX)


def save_note(spool_dir: str, room_id: str, recording_id: str, files: list[dict],
              kept: list[KeptFile], live: list[dict] = (), last_seq: int = 0) -> None:
    """Write (or replace, atomically) the recording's note.

    :param live: ``{name, path, participantId, kind, addedAt, startSeq}`` of each file
        still being written (a composite's ``participantId`` is None).
    :param last_seq: the room's last event seq seen (a killed file's ``endSeq``).
    """
    path = note_path(spool_dir, recording_id)
    partial = path + ".partial"
    with open(partial, "w") as f:
        json.dump({"roomId": room_id, "recordingId": recording_id, "files": files,
                   "kept": [k.as_note() for k in kept], "live": list(live),
                   "lastSeq": last_seq}, f)
    os.replace(partial, path)


def remove_note(spool_dir: str, recording_id: str) -> None:
    path = note_path(spool_dir, recording_id)
    if os.path.exists(path):
        os.remove(path)


def load_notes(spool_dir: str) -> list[dict]:
    """Every readable note whose kept files are all still on disk."""
    notes = []
    for path in sorted(Path(spool_dir).glob("*" + SUFFIX)) if os.path.isdir(spool_dir) else []:
        try:
            note = json.loads(path.read_text())
            note["kept"] = [KeptFile.from_note(k) for k in note["kept"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.error("recording note %s unreadable: %s", path, exc)
            continue
        note["live"] = [w for w in note.get("live", []) if os.path.exists(w["path"])]
        missing = [k.path for k in note["kept"] if not os.path.exists(k.path)]
        if missing:
            logger.error("recording %s: kept files gone: %s", note["recordingId"], missing)
            continue
        notes.append(note)
    return notes


def salvage_live(note: dict) -> list[KeptFile]:
    """Finish the files a killed node was writing (``note["live"]``) from their spools:
    each becomes a kept file, ``endSeq`` the last seq the note saw. A per-track file
    keeps every whole packet (:func:`.remux.salvage`), a composite every whole fragment
    (:func:`.remux.salvage_fragments`). Spools with nothing recorded are deleted."""
    kept = []
    for live in note["live"]:
        composite = live["kind"] == "composite"
        stem, ext = os.path.splitext(live["path"])
        out = f"{stem}.salvaged{ext}"
        try:
            if composite:
                codecs, packets, seconds = salvage_fragments(live["path"], out)
            else:
                codec, packets, seconds = salvage(live["path"], out)
                codecs = [codec]
        except (av.FFmpegError, OSError, KeyError) as exc:  # killed before its header
            logger.error("recording %s: %s cannot be read back, deleted: %s",
                         note["recordingId"], live["path"], exc)
            packets = 0
        remove_spool(live["path"])
        if not packets:
            continue
        sha256 = hashlib.sha256()
        with open(out, "rb") as f:
            while block := f.read(1 << 20):
                sha256.update(block)
        owner = {} if composite else {"participantId": live["participantId"]}
        entry = {"uri": None, "bytes": os.path.getsize(out), "sha256": sha256.hexdigest(),
                 "etag": None, "durationSeconds": seconds, "kind": live["kind"],
                 "codecs": codecs, **owner,
                 "startedAt": iso(live["addedAt"]), "endedAt": iso(live["addedAt"] + seconds),
                 "startSeq": live["startSeq"], "endSeq": max(note["lastSeq"], live["startSeq"])}
        content_type = COMPOSITE_TYPE if composite else FORMATS[codecs[0]][2]
        kept.append(KeptFile(live["name"], out, content_type, entry["sha256"], entry))
        logger.info("recording %s: %s finished from its spool (%.1f s)",
                    note["recordingId"], live["name"], seconds)
    return kept
