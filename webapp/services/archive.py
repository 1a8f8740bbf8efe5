"""Keep results playable: download on completion, verify it is media, keep it in the
archive; the reference images users upload live here too."""

from __future__ import annotations

import logging
import tempfile
import time

import requests
from flask import current_app

from ..domain import statuses as st
from ..providers import base as pb
from ..storage import build_store, verify
from ..storage.base import CHUNK_SIZE as CHUNK

log = logging.getLogger(__name__)

MAX_RESULT_BYTES = 4 * 1024**3
KEEPALIVE_SECONDS = 5.0


class LeaseLost(Exception):
    """The task was taken over while its result downloaded: stop, write nothing."""


EXT = {
    "video/mp4": "mp4",
    "image/webp": "webp",
    "image/jpeg": "jpg",
    "image/png": "png",
    "video/webm": "webm",
}
CONTENT_TYPES = {
    "video": "video/mp4",
    "thumbnail": "image/webp",
    "spritesheet": "image/jpeg",
    "image": "image/png",
}


def safe_type(variant: str, declared: str | None) -> str:
    """The upstream's Content-Type only if it is media of the expected kind: a hostile or
    broken upstream must not get text/html (or SVG) served from Reelay's own origin."""
    mime = (declared or "").split(";")[0].strip().lower()
    family = "video/" if variant == "video" else "image/"
    if mime.startswith(family) and mime != "image/svg+xml" and len(mime) <= 60:
        return mime
    return CONTENT_TYPES[variant]


def store():
    """The archive store, built once per app."""
    ext = current_app.extensions
    if "reelay_store" not in ext:
        ext["reelay_store"] = build_store(current_app.config)
    return ext["reelay_store"]


def _key(video_id: str, variant: str, mime: str) -> str:
    return f"tasks/{video_id}/{variant}.{EXT.get(mime.split(';')[0].strip(), 'bin')}"


def save_reference(video_id: str, data: bytes, mime: str) -> str:
    key = f"refs/{video_id}.{EXT.get(mime, 'bin')}"
    store().put_stream(key, [data], mime)
    return key


def load_reference(key: str | None) -> tuple[bytes | None, str | None]:
    if not key:
        return None, None
    chunks, close = store().open(key)
    try:
        data = b"".join(chunks)
    finally:
        close()
    mime = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}.get(
        key.rsplit(".", 1)[-1], "application/octet-stream"
    )
    return data, mime


def _entry(key: str, media: verify.Media, size: int) -> dict:
    return {
        "key": key,
        "content_type": media.content_type,
        "size": size,
        "verified": media.as_dict(),
    }


def _family(variant: str) -> str:
    return "video" if variant == "video" else "image"


def _keep(store_, video_id: str, variant: str, path: str, size: int, declared: str | None):
    """Verify the downloaded file, then copy it into the archive under its proven type."""
    media = verify.check(path, size, _family(variant), declared)
    key = _key(video_id, variant, media.content_type)
    with open(path, "rb") as fh:
        obj = store_.put_stream(key, iter(lambda: fh.read(CHUNK), b""), media.content_type)
    return _entry(key, media, obj.size)


def store_inline(store_, video_id: str, results: dict[str, tuple[bytes, str]]) -> dict:
    """Results a synchronous provider handed back with its answer (verified too)."""
    archived = {}
    for variant, (data, mime) in results.items():
        with tempfile.NamedTemporaryFile(prefix=".reelay-dl-") as fh:
            fh.write(data)
            fh.flush()
            archived[variant] = _keep(store_, video_id, variant, fh.name, len(data), mime)
    return archived


def variants_for(media_type: str, capabilities: frozenset) -> list[str]:
    if media_type == st.IMAGE:
        return ["image"]
    out = ["video"]
    if pb.CAP_THUMBNAIL in capabilities:
        out.append("thumbnail")
    if pb.CAP_SPRITESHEET in capabilities:
        out.append("spritesheet")
    return out


def still_good(store_, entry: dict | None) -> bool:
    """An archived variant that was verified and is still whole in the store."""
    if not isinstance(entry, dict) or "verified" not in entry:
        return False
    obj = store_.stat(entry["key"])
    return obj is not None and obj.size == entry.get("size")


def archive_task(
    store_,
    adapter,
    video_id: str,
    external_id: str,
    handles: dict,
    media_type: str,
    capabilities: frozenset,
    *,
    already: dict | None = None,
    keepalive=None,
) -> dict:
    """Download, verify and keep every variant the provider has; a variant already
    archived and still good is kept as it is. Returns the whole archive map.

    The main result is required: ContentExpired, TransientError and InvalidMedia
    propagate (the caller retries, then fails the task plainly); extra variants are best
    effort. ``keepalive()`` is called while a long download runs and returns False when
    the lease was lost (then LeaseLost stops the download)."""
    already = already or {}
    archived: dict = {}
    for variant in variants_for(media_type, capabilities):
        if still_good(store_, already.get(variant)):
            archived[variant] = already[variant]
            continue
        main = variant in ("video", "image")
        try:
            archived[variant] = _fetch(
                store_, adapter, video_id, external_id, handles, variant, keepalive
            )
        except (pb.ProviderError, verify.InvalidMedia):
            if main:
                raise
            log.info("no usable %s for %s", variant, video_id)
    return archived


def _fetch(store_, adapter, video_id, external_id, handles, variant, keepalive) -> dict:
    download = adapter.download(external_id, handles, "video" if variant == "image" else variant)
    try:
        if not verify.declared_ok(download.content_type, _family(variant)):
            raise verify.InvalidMedia(
                f"the provider sent {download.content_type[:40]} instead of a {_family(variant)}"
            )
        with tempfile.NamedTemporaryFile(prefix=".reelay-dl-") as fh:
            size = _spool(download, fh, keepalive)
            return _keep(store_, video_id, variant, fh.name, size, download.content_type)
    finally:
        download.release()


def _spool(download, fh, keepalive) -> int:
    size = 0
    last = time.monotonic()
    try:
        for chunk in download.chunks:
            fh.write(chunk)
            size += len(chunk)
            if size > MAX_RESULT_BYTES:
                raise verify.InvalidMedia("the file is larger than Reelay keeps")
            if keepalive is not None and time.monotonic() - last > KEEPALIVE_SECONDS:
                last = time.monotonic()
                if not keepalive():
                    raise LeaseLost()
    except (requests.RequestException, OSError) as exc:
        raise pb.TransientError("The download was interrupted.") from exc
    fh.flush()
    return size
