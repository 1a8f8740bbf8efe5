"""Filesystem archive: atomic writes (temp file + os.replace) and ranged reads."""

from __future__ import annotations

import contextlib
import mimetypes
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from .base import CHUNK_SIZE, Closer, StoredObject, check_range, validate_key

# The archive names files by content type (see services.archive), so the extension is a
# reliable stand-in for the metadata the filesystem cannot hold.
_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
}
_TMP_PREFIX = ".tmp-"


def guess_type(key: str) -> str:
    ext = os.path.splitext(key)[1].lower()
    return _TYPES.get(ext) or mimetypes.guess_type(key)[0] or "application/octet-stream"


class LocalStore:
    """Archive under one directory; a key can never resolve outside it."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        # Belt and braces against symlinks planted inside the archive.
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"archive key escapes the archive directory: {key!r}")
        return path

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        """Write chunk by chunk to a temp file beside the target, then rename over it.

        A failure (or crash) mid-stream leaves the previous object, if any, untouched and no
        partial file under the final name; the temp file is removed on any exception.
        """
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    if chunk:
                        fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        obj = self.stat(key)
        assert obj is not None
        return obj

    def stat(self, key: str) -> StoredObject | None:
        path = self._path(key)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        if not path.is_file():
            return None
        # Changes whenever os.replace installs a new file (new mtime and usually size).
        etag = f"{st.st_mtime_ns:x}-{st.st_size:x}-{st.st_ino:x}"
        modified = datetime.fromtimestamp(st.st_mtime, UTC)
        return StoredObject(key, st.st_size, guess_type(key), etag, modified)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error."""
        self._path(key).unlink(missing_ok=True)

    def open(
        self, key: str, start: int = 0, end: int | None = None
    ) -> tuple[Iterator[bytes], Closer]:
        """Chunks of bytes ``start..end`` (inclusive); raises FileNotFoundError if missing."""
        check_range(start, end)
        fh = self._path(key).open("rb")
        fh.seek(start)
        remaining = None if end is None else end - start + 1
        return _read_chunks(fh, remaining), fh.close


def _read_chunks(fh: BinaryIO, remaining: int | None) -> Iterator[bytes]:
    while remaining is None or remaining > 0:
        size = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
        data = fh.read(size)
        if not data:
            return
        if remaining is not None:
            remaining -= len(data)
        yield data
