"""HTTP responses for archived objects (Range, ETag, HEAD) and for upstream fallbacks.

One implementation on top of ``stat`` + ``open`` serves both backends, so local and S3
archives answer identically (same multi-range policy, same caching headers) and S3 only
ever fetches the bytes a player asked for.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from flask import Request, Response
from werkzeug.exceptions import NotFound
from werkzeug.http import is_resource_modified, parse_range_header

from .base import ArchiveStore, Closer, StoredObject


class _ClosingStream:
    """Response body that releases its source exactly once: on exhaustion, or when the
    WSGI server calls ``close()`` (werkzeug hands ``direct_passthrough`` bodies to the
    server as-is, so ``call_on_close`` alone would not fire for streamed GETs)."""

    def __init__(self, chunks: Iterable[bytes], close: Closer | None) -> None:
        self._chunks = chunks
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        finally:
            self.close()

    def close(self) -> None:
        close, self._close = self._close, None
        if close is not None:
            close()


def serve(
    store: ArchiveStore,
    key: str,
    *,
    request: Request,
    download_name: str | None = None,
    max_age: int = 0,
) -> Response:
    """Serve ``key`` with byte ranges, ETag revalidation and HEAD; 404 if missing.

    - ``Range: bytes=a-b`` / ``a-`` / ``-n`` -> 206 + Content-Range (an end past the file
      is clamped, a suffix longer than the file means the whole file, as RFC 9110 says).
    - Unsatisfiable -> 416 + ``Content-Range: bytes */size``.
    - Several ranges -> the whole file as a 200 (RFC 9110 lets a server ignore Range;
      players never ask for several, and it avoids multipart/byteranges).
    - Malformed or non-``bytes`` Range, or an ``If-Range`` that does not match -> 200.
    - ``If-None-Match`` / ``If-Modified-Since`` -> 304.
    - Cache-Control is ``private`` (archived results belong to one account).
    """
    obj = store.stat(key)
    if obj is None:
        raise NotFound()
    size = obj.size
    resp = Response(status=200, content_type=obj.content_type)
    _describe(resp, obj, download_name, max_age)
    resp.headers["Accept-Ranges"] = "bytes"

    if request.method not in ("GET", "HEAD"):
        return resp  # pragma: no cover - routes only route GET/HEAD here
    if not is_resource_modified(
        request.environ, etag=obj.etag or None, last_modified=obj.last_modified
    ):
        resp.status_code = 304
        return resp

    start, end = 0, size - 1
    header = request.headers.get("Range")
    if header and _if_range_matches(request, obj):
        rng = parse_range_header(header)
        if rng is not None and rng.units == "bytes" and len(rng.ranges) == 1:
            span = _resolve(rng.ranges[0], size)
            if span is None:
                resp.status_code = 416
                resp.headers["Content-Range"] = f"bytes */{size}"
                resp.content_length = 0
                return resp
            start, end = span
            resp.status_code = 206
            resp.headers["Content-Range"] = f"bytes {start}-{end}/{size}"

    resp.content_length = end - start + 1 if size else 0
    if request.method == "HEAD" or size == 0:
        return resp  # nothing to read: do not open (an S3 GET) just to discard it
    chunks, close = store.open(key, start, end)
    body = _ClosingStream(chunks, close)
    resp.response = body
    resp.direct_passthrough = True
    resp.call_on_close(body.close)  # covers paths where werkzeug never iterates the body
    return resp


def serve_stream(
    chunks: Iterable[bytes],
    content_type: str,
    length: int | None = None,
    *,
    request: Request,
    close: Closer | None = None,
) -> Response:
    """Relay an upstream download as a plain 200 while the archive copy does not exist.

    No Range support (``Accept-Ranges: none`` tells players not to seek by request) and
    ``no-store`` so the temporary relay is never cached in place of the archived copy.
    ``close`` (e.g. releasing the upstream connection) runs once, even for HEAD.
    """
    body = _ClosingStream(chunks, close)
    resp = Response(
        () if request.method == "HEAD" else body,
        status=200,
        content_type=content_type,
        direct_passthrough=True,
    )
    resp.call_on_close(body.close)
    resp.headers["Accept-Ranges"] = "none"
    resp.headers["Cache-Control"] = "no-store"
    _harden(resp)
    if length is not None:
        resp.content_length = length
    return resp


def _describe(resp: Response, obj: StoredObject, download_name: str | None, max_age: int) -> None:
    """Headers every archive answer carries, including 304 and 416."""
    if obj.etag:
        resp.set_etag(obj.etag)
    if obj.last_modified is not None:
        resp.last_modified = obj.last_modified
    if max_age > 0:
        resp.cache_control.private = True
        resp.cache_control.max_age = max_age
    else:
        resp.cache_control.no_cache = True
    _harden(resp)
    if download_name:
        resp.headers.set("Content-Disposition", "attachment", **_filename_params(download_name))


def _harden(resp: Response) -> None:
    """Stored files are media, never documents: even if one were HTML it could not run
    script or read anything on Reelay's origin."""
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "sandbox"


def _filename_params(name: str) -> dict[str, str]:
    """ASCII ``filename`` plus RFC 5987 ``filename*`` for non-ASCII names, as send_file does;
    werkzeug's header quoting handles quotes and backslashes."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple or "download", "filename*": "UTF-8''" + quote(name, safe="")}
    return {"filename": name}


def _if_range_matches(request: Request, obj: StoredObject) -> bool:
    """No If-Range, or one that strongly matches the current object (else send it all)."""
    raw = request.headers.get("If-Range")
    if not raw:
        return True
    if raw.strip().startswith("W/"):
        return False  # weak validators never qualify for If-Range
    cond = request.if_range
    if cond.etag is not None:
        return bool(obj.etag) and cond.etag == obj.etag
    if cond.date is not None and obj.last_modified is not None:
        return cond.date == obj.last_modified.replace(microsecond=0)
    return False


def _resolve(rng: tuple[int, int | None], size: int) -> tuple[int, int] | None:
    """werkzeug's (start, stop-exclusive) -> inclusive (start, end), or None if unsatisfiable."""
    start, stop = rng
    if size == 0:
        return None
    if start < 0:  # suffix: the last -start bytes
        return max(size + start, 0), size - 1
    if start >= size:
        return None
    return start, (size if stop is None else min(stop, size)) - 1
