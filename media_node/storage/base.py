"""The uploader interface: open an object, write parts as they come, complete or abort.

Every blocking SDK call runs in the uploader's thread pool, never on the event loop,
and a failed call is retried with exponential backoff (:class:`RetryPolicy`) unless the
store refused outright (:class:`~.errors.DestinationRefused`).

An object's first part is held back until :meth:`ObjectUpload.complete`, which may
replace it: a muxer writes its header's final values (duration, cues' position) at
the start of the file once it is closed, so the rest streams out while recording and
only the first part and the tail are left to send after stop.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ..counters import COUNTERS
from .errors import DestinationRefused, StorageError, UploadFailed, VerificationFailed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed call is tried again.

    :param attempts: calls in all, the first included.
    :param base_delay: seconds before the second call; doubled each time after.
    :param max_delay: the longest wait between two calls.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed call number ``attempt`` (0-based)."""
        return min(self.base_delay * 2 ** attempt, self.max_delay)


@dataclass(frozen=True)
class StoredObject:
    """An object complete in the bucket, as read back.

    :param uri: ``s3://bucket/key``, ``gs://...``, ``https://account.blob.../key``, ``file://``.
    :param bytes: its size.
    :param etag: the store's ETag (quotes stripped).
    """

    uri: str
    bytes: int
    etag: str


@dataclass(frozen=True)
class ReadBack:
    """What a store says about an object: size, ETag, and the sha256 it keeps, if any."""

    size: int
    etag: str
    sha256: str | None = None


@dataclass(frozen=True)
class Part:
    """A part sent: its number (1 is the object's start), what the store returned, md5."""

    number: int
    token: Any
    md5: bytes
    size: int


class Uploader(ABC):
    """One bucket (or container, or folder) that objects are streamed into.

    :param prefix: prepended to every object name (the destination's ``prefix``).
    :param part_size: bytes per part (the first part is held back until completion).
    :param retry: retries of each blocking call.
    :param secrets: strings never to let into an error message.
    """

    def __init__(self, prefix: str, part_size: int, retry: RetryPolicy | None = None,
                 secrets: tuple[str, ...] = ()) -> None:
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self.retry = retry or RetryPolicy()
        self._secrets = tuple(s for s in secrets if s)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="upload")

    def key(self, name: str) -> str:
        """The object key of ``name`` under the prefix."""
        return f"{self.prefix}/{name}" if self.prefix else name

    async def open(self, name: str, content_type: str) -> "ObjectUpload":
        """Begin streaming the object ``name`` (under the prefix).

        :raises DestinationRefused: the store refused (credentials, bucket, permission).
        :raises UploadFailed: the store stayed unreachable through every retry.
        """
        upload = self._new_upload(self.key(name), content_type)
        await self.call(upload.begin, what=f"opening {upload.key}")
        return upload

    async def call(self, fn: Callable, *args, what: str, attempts: int | None = None):
        """``fn(*args)`` in the thread pool, retried with backoff; SDK errors translated."""
        loop = asyncio.get_running_loop()
        attempts = attempts or self.retry.attempts
        for attempt in range(attempts):
            try:
                return await loop.run_in_executor(self._pool, fn, *args)
            except StorageError:
                raise
            except Exception as exc:  # the SDKs raise their own hierarchies
                error = self.translate(exc)
                if isinstance(error, DestinationRefused) or attempt == attempts - 1:
                    COUNTERS.upload_failures += 1
                    raise error from None
                delay = self.retry.delay(attempt)
                logger.warning("%s failed (attempt %d of %d), retrying in %.1f s: %s",
                               what, attempt + 1, attempts, delay, error.message)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def translate(self, exc: Exception) -> StorageError:
        """The SDK's error as a :class:`DestinationRefused` or :class:`UploadFailed`."""
        message = self.redact(f"{type(exc).__name__}: {exc}")
        return DestinationRefused(message) if self.refused(exc) else UploadFailed(message)

    def redact(self, message: str) -> str:
        """``message`` with every secret this uploader holds replaced by ``***``."""
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message

    @abstractmethod
    def refused(self, exc: Exception) -> bool:
        """Whether ``exc`` means the destination refuses (no point retrying)."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """The object's URI as the manifest gives it."""

    @abstractmethod
    def _new_upload(self, key: str, content_type: str) -> "ObjectUpload":
        """A not-yet-begun upload of ``key``."""

    @abstractmethod
    def read_back(self, key: str) -> ReadBack:
        """Size, ETag and stored sha256 of ``key`` (blocking; call through :meth:`call`)."""

    async def stat(self, name: str) -> ReadBack:
        """What the store says about the object ``name`` (under the prefix)."""
        key = self.key(name)
        return await self.call(self.read_back, key, what=f"reading back {key}")

    def close(self) -> None:
        """Release the thread pool (calls in flight finish)."""
        self._pool.shutdown(wait=False)


class ObjectUpload(ABC):
    """One object being streamed: :meth:`write` in order, then :meth:`complete` or :meth:`abort`.

    Subclasses implement the blocking steps :meth:`begin`, :meth:`put_part`,
    :meth:`finish` and :meth:`cancel`; this class buffers, numbers parts, holds back
    the first one and verifies the object read back.
    """

    retry_parts = True  # False when the SDK retries a part itself and a repeat would append

    def __init__(self, uploader: Uploader, key: str, content_type: str) -> None:
        self.uploader = uploader
        self.key = key
        self.content_type = content_type
        self.size = 0
        self.parts: list[Part] = []
        # what was appended, as it came (no copy on the loop): the held-back first part,
        # then what waits for a part to fill; a part's bytes are joined in the pool
        self._first: list[bytes] = []
        self._first_size = 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._next = 2
        self._done = False

    @property
    def first_part_size(self) -> int:
        """Bytes of the held-back first part (what :meth:`complete` may replace)."""
        return self._first_size

    async def write(self, data: bytes) -> None:
        """Append ``data``; sends every part that fills (not the first).

        :raises StorageError: a part failed after its retries (the object is not aborted).
        """
        self.append(data)
        await self.send_ready()

    def append(self, data: bytes) -> bool:
        """Append ``data`` without sending; whether a part is full, for
        :meth:`send_ready` to send."""
        part_size = self.uploader.part_size
        self.size += len(data)
        room = part_size - self._first_size
        if room > 0:
            head = data if len(data) <= room else data[:room]
            self._first.append(head)
            self._first_size += len(head)
            data = data[len(head):]
        if data:
            self._pending.append(data)
            self._pending_size += len(data)
        return self._pending_size >= part_size

    async def send_ready(self) -> None:
        """Send every full part appended (what is appended meanwhile included).

        :raises StorageError: a part failed after its retries (the object is not aborted).
        """
        part_size = self.uploader.part_size
        while self._pending_size >= part_size:
            await self._send(self._next, self._take(part_size))
            self._next += 1

    def _take(self, size: int) -> list[bytes]:
        # the first ``size`` bytes of what is pending, as pieces
        pieces, taken = [], 0
        while taken < size:
            piece = self._pending.pop(0)
            if taken + len(piece) > size:
                self._pending.insert(0, piece[size - taken:])
                piece = piece[:size - taken]
            pieces.append(piece)
            taken += len(piece)
        self._pending_size -= taken
        return pieces

    async def _send(self, number: int, pieces: list[bytes]) -> None:
        def put() -> Part:
            chunk = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            return Part(number, self.put_part(number, chunk), hashlib.md5(chunk).digest(),
                        len(chunk))

        attempts = None if self.retry_parts else 1
        part = await self.uploader.call(put, what=f"part {number} of {self.key}",
                                        attempts=attempts)
        self.parts.append(part)
        COUNTERS.upload_bytes += part.size

    async def complete(self, first_part: bytes | None = None,
                       sha256: str | Awaitable[str] = "") -> StoredObject:
        """Send the first part (``first_part`` replaces it, same length) and the tail,
        complete the object, read it back and compare.

        :param sha256: hex sha256 of the whole object, kept with it where the store can;
            or an awaitable of it, awaited once the first part and the tail are sent
            (the hash is taken meanwhile).
        :raises StorageError: sending failed, or :class:`VerificationFailed` (also
            raised by the awaitable).
        """
        if first_part is not None:
            if len(first_part) != self._first_size:
                raise ValueError("first_part must replace the first part byte for byte")
            self._first = [first_part]
        await self._send(1, self._first)
        if self._pending:
            await self._send(self._next, self._take(self._pending_size))
        self.parts.sort(key=lambda p: p.number)
        if not isinstance(sha256, str):
            sha256 = await sha256
        await self.uploader.call(self.finish, self.parts, sha256, what=f"completing {self.key}")
        self._done = True
        found = await self.uploader.call(self.uploader.read_back, self.key,
                                         what=f"reading back {self.key}")
        self.check(found, sha256)
        return StoredObject(self.uploader.uri(self.key), found.size, found.etag)

    def check(self, found: ReadBack, sha256: str) -> None:
        """Compare what the store holds with what was written.

        :raises VerificationFailed: on a different size, ETag or sha256.
        """
        expected_etag = self.expected_etag()
        if found.size != self.size:
            raise VerificationFailed(f"{self.key}: {found.size} bytes in the bucket, "
                                     f"{self.size} written")
        if expected_etag is not None and found.etag != expected_etag:
            raise VerificationFailed(f"{self.key}: ETag {found.etag}, expected {expected_etag}")
        if sha256 and found.sha256 is not None and found.sha256 != sha256:
            raise VerificationFailed(f"{self.key}: sha256 {found.sha256}, expected {sha256}")

    def expected_etag(self) -> str | None:
        """The ETag the store must report, when it can be known (None: not compared)."""
        return None

    @property
    def settled(self) -> bool:
        """Completed or aborted: nothing of it is left half-done at the store."""
        return self._done

    async def abort(self) -> None:
        """Give up the object: nothing is left in the bucket, nor billed.

        :raises StorageError: the store could not be told (call again later: the
            upload stays unsettled until an abort goes through).
        """
        if not self._done:
            await self.uploader.call(self.cancel, what=f"aborting {self.key}", attempts=3)
            self._done = True

    def begin(self) -> None:
        """Start the upload at the store (blocking)."""

    @abstractmethod
    def put_part(self, number: int, data: bytes) -> Any:
        """Send part ``number`` (blocking); parts 2.. come in order, part 1 last."""

    @abstractmethod
    def finish(self, parts: list[Part], sha256: str) -> None:
        """Make the object from ``parts`` (blocking)."""

    @abstractmethod
    def cancel(self) -> None:
        """Discard whatever was sent (blocking)."""
