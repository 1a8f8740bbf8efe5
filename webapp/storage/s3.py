"""S3-compatible archive (AWS S3, Cloudflare R2, MinIO) streaming through boto3.

Credentials are never taken from app config: boto3 resolves them from its usual
environment variables / shared files / instance role, and nothing here logs them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from .base import CHUNK_SIZE, Closer, StoredObject, check_range, validate_key

MiB = 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}


class ChunkReader(io.RawIOBase):
    """A read-only, non-seekable file over an iterator of byte chunks.

    ``read(n)`` returns exactly ``n`` bytes until the iterator runs dry, because boto3
    turns each read into one multipart part and S3 rejects non-final parts under 5 MiB.
    At most ``n`` + one chunk is buffered here at any time.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = bytearray()
        self._eof = False
        self.bytes_read = 0
        self.peak_buffered = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int | None = -1) -> bytes:
        want = None if size is None or size < 0 else size
        while not self._eof and (want is None or len(self._buf) < want):
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._eof = True
                break
            self._buf += chunk
            self.peak_buffered = max(self.peak_buffered, len(self._buf))
        n = len(self._buf) if want is None else min(want, len(self._buf))
        data = bytes(self._buf[:n])
        del self._buf[:n]
        self.bytes_read += n
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class S3Store:
    """Objects live at ``prefix + key`` in one bucket."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "reelay/",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
        part_size: int = 8 * MiB,
        max_concurrency: int = 2,
    ) -> None:
        if not bucket:
            raise ValueError("S3_BUCKET is required when ARCHIVE_BACKEND is 's3'")
        if part_size < 5 * MiB:
            raise ValueError("part_size must be at least 5 MiB (the S3 minimum part size)")
        self.bucket = bucket
        self.prefix = prefix.lstrip("/")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"
        self.client = client or boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            config=Config(signature_version="s3v4", retries={"mode": "standard"}),
        )
        # Bounded memory: boto3 reads ahead at most ~(max_concurrency + 2) * part_size
        # (measured: the first part goes out once 2 parts are read with concurrency 1).
        self.transfer = TransferConfig(
            multipart_threshold=part_size,
            multipart_chunksize=part_size,
            max_concurrency=max_concurrency,
            preferred_transfer_client="classic",
        )
        self.transfer.max_in_memory_upload_chunks = max_concurrency

    def __repr__(self) -> str:  # never shows credentials: the client is not included
        return f"S3Store(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def put_stream(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        """Stream into a (multipart, above one part) upload; nothing is visible until done.

        S3 only publishes the object when the upload completes, and boto3 aborts the
        multipart upload on error, so a failing iterator leaves nothing under ``key``.
        Errors from the iterator propagate unchanged.
        """
        s3_key = self._key(key)
        reader = ChunkReader(chunks)
        self.client.upload_fileobj(
            reader,
            self.bucket,
            s3_key,
            ExtraArgs={"ContentType": content_type},
            Config=self.transfer,
        )
        obj = self.stat(key)
        if obj is None:  # pragma: no cover - read-after-write is strong on S3/R2/MinIO
            return StoredObject(key, reader.bytes_read, content_type, "")
        return obj

    def stat(self, key: str) -> StoredObject | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return StoredObject(
            key,
            int(head["ContentLength"]),
            head.get("ContentType") or "application/octet-stream",
            head.get("ETag", "").strip('"'),
            head.get("LastModified"),
        )

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def delete(self, key: str) -> None:
        """Idempotent, as S3's DeleteObject is."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def open(
        self, key: str, start: int = 0, end: int | None = None
    ) -> tuple[Iterator[bytes], Closer]:
        """Chunks of bytes ``start..end`` (inclusive) via a ranged GET; FileNotFoundError if
        missing. The caller must keep the range inside the object (serve() does)."""
        check_range(start, end)
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            body = self.client.get_object(**kwargs)["Body"]
        except ClientError as exc:
            if _is_missing(exc):
                raise FileNotFoundError(key) from None
            raise
        return body.iter_chunks(CHUNK_SIZE), body.close


def _is_missing(exc: Any) -> bool:
    err = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(err.get("Code")) in _MISSING or status == 404
