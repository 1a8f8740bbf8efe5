"""Shared types for the content archive: the object record, the store protocol and
key validation (one rule for every backend, so a key that is safe on S3 is safe on disk)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

CHUNK_SIZE = 64 * 1024
MAX_KEY_LENGTH = 1024
_KEY_RE = re.compile(r"[A-Za-z0-9_./-]+")

Closer = Callable[[], None]


@dataclass(frozen=True)
class StoredObject:
    """What serving needs to know about an archived object, without reading it."""

    key: str
    size: int
    content_type: str
    etag: str  # unquoted; serve() adds the quotes
    last_modified: datetime | None = None


@runtime_checkable
class ArchiveStore(Protocol):
    """A flat key -> bytes archive. Implementations stream in both directions."""

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject: ...

    def stat(self, key: str) -> StoredObject | None: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def open(
        self, key: str, start: int = 0, end: int | None = None
    ) -> tuple[Iterator[bytes], Closer]: ...


def validate_key(key: str) -> str:
    """Refuse anything that could escape the archive root or mean two different objects.

    Allowed: ``[A-Za-z0-9_./-]``, relative, no ``..`` anywhere, no empty or ``.`` segments.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError("archive key must be a non-empty string of at most 1024 characters")
    if not _KEY_RE.fullmatch(key):
        raise ValueError(f"archive key has characters outside [A-Za-z0-9_./-]: {key!r}")
    if key.startswith("/") or ".." in key:
        raise ValueError(f"archive key must be relative and must not contain '..': {key!r}")
    if any(part in ("", ".") for part in key.split("/")):
        raise ValueError(f"archive key has an empty or '.' path segment: {key!r}")
    return key


def check_range(start: int, end: int | None) -> None:
    """``end`` is inclusive, as in HTTP ``bytes=start-end``."""
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range {start}-{end}")
