"""Files a failed upload left on the node's disk, and a note that outlives the process.

When a recording fails with files kept, ``<spool>/<recordingId>.kept.json`` says which
room it belongs to, which files already reached the bucket (the manifest so far), and
for each kept file its object name, content type, sha256 and manifest entry. A node that
restarts reads these notes back (:func:`load_notes`), so ``retry-upload`` still works;
the note goes once the recording completes. Blocking: call these off the loop.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..storage.base import ObjectUpload
from ..storage.errors import StorageError

logger = logging.getLogger(__name__)
SUFFIX = ".kept.json"


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
              kept: list[KeptFile]) -> None:
    """Write (or replace, atomically) the recording's note."""
    path = note_path(spool_dir, recording_id)
    partial = path + ".partial"
    with open(partial, "w") as f:
        json.dump({"roomId": room_id, "recordingId": recording_id, "files": files,
                   "kept": [k.as_note() for k in kept]}, f)
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
        missing = [k.path for k in note["kept"] if not os.path.exists(k.path)]
        if missing:
            logger.error("recording %s: kept files gone: %s", note["recordingId"], missing)
            continue
        notes.append(note)
    return notes
