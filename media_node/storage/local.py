"""A local folder that behaves like a bucket: the uploader's twin for unit tests."""
from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from .base import ObjectUpload, Part, ReadBack, RetryPolicy, Uploader
from .errors import DestinationRefused


class LocalDirectoryUploader(Uploader):
    """Objects are files under ``root``; parts wait in ``root/.uploads`` until completed.

    :param root: the folder standing in for the bucket; it must exist.
    """

    def __init__(self, root: str | os.PathLike, prefix: str = "", part_size: int = 64 * 1024,
                 retry: RetryPolicy | None = None) -> None:
        super().__init__(prefix, part_size, retry)
        self.root = Path(root)

    def refused(self, exc: Exception) -> bool:
        return isinstance(exc, (FileNotFoundError, PermissionError, NotADirectoryError))

    def uri(self, key: str) -> str:
        return (self.root / key).resolve().as_uri()

    def _new_upload(self, key: str, content_type: str) -> "LocalObjectUpload":
        return LocalObjectUpload(self, key, content_type)

    def read_back(self, key: str) -> ReadBack:
        sha256, md5 = hashlib.sha256(), hashlib.md5()
        with open(self.root / key, "rb") as f:
            while block := f.read(1 << 20):
                sha256.update(block)
                md5.update(block)
        return ReadBack((self.root / key).stat().st_size, md5.hexdigest(), sha256.hexdigest())


class LocalObjectUpload(ObjectUpload):
    """Parts as files; completion concatenates them and renames into place."""

    uploader: LocalDirectoryUploader

    def begin(self) -> None:
        if not self.uploader.root.is_dir():
            raise DestinationRefused(f"no such folder: {self.uploader.root}")
        self._parts_dir = self.uploader.root / ".uploads" / uuid.uuid4().hex
        self._parts_dir.mkdir(parents=True)

    def put_part(self, number: int, data: bytes) -> str:
        path = self._parts_dir / f"{number:08d}"
        path.write_bytes(data)
        return path.name

    def finish(self, parts: list[Part], sha256: str) -> None:
        target = self.uploader.root / self.key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with open(partial, "wb") as out:
            for part in parts:
                with open(self._parts_dir / part.token, "rb") as f:
                    shutil.copyfileobj(f, out)
        os.replace(partial, target)
        shutil.rmtree(self._parts_dir)

    def cancel(self) -> None:
        shutil.rmtree(self._parts_dir, ignore_errors=True)

    def expected_etag(self) -> str | None:
        return None  # the read-back sha256 is compared instead
