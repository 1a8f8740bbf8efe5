"""Keep results playable: archive on completion, serve from the archive, fall back to
streaming from the upstream until archived."""

from __future__ import annotations

import logging

import requests
from flask import current_app

from ..domain import statuses as st
from ..providers import base as pb
from ..storage import build_store

log = logging.getLogger(__name__)

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


def load_reference(task) -> tuple[bytes | None, str | None]:
    if not task.reference_image_key:
        return None, None
    chunks, close = store().open(task.reference_image_key)
    try:
        data = b"".join(chunks)
    finally:
        close()
    mime = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}.get(
        task.reference_image_key.rsplit(".", 1)[-1], "application/octet-stream"
    )
    return data, mime


def store_inline(store_, video_id: str, results: dict[str, tuple[bytes, str]]) -> dict:
    archived = {}
    for variant, (data, mime) in results.items():
        key = _key(video_id, variant, mime)
        store_.put_stream(key, [data], mime)
        archived[variant] = {"key": key, "content_type": mime, "size": len(data)}
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


def archive_task(
    store_, adapter, video_id, external_id, handles, media_type, capabilities, status, already=None
) -> dict:
    """Stream every variant the provider has into the archive (never whole in memory).

    The main result is required (ContentExpired/TransientError propagate); extra
    variants are best effort.
    """
    already = already or {}
    archived: dict = {}
    for variant in variants_for(media_type, capabilities):
        existing = already.get(variant)
        if existing and store_.exists(existing["key"]):
            continue
        upstream_variant = "video" if variant == "image" else variant
        try:
            download = adapter.download(external_id, handles, upstream_variant)
        except pb.ProviderError:
            if variant in ("video", "image"):
                raise
            log.info("no %s for %s", variant, video_id)
            continue
        try:
            mime = safe_type(variant, download.content_type)
            key = _key(video_id, variant, mime)
            obj = store_.put_stream(key, download.chunks, mime)
        except (requests.RequestException, OSError) as exc:
            # The upstream dropped mid-stream: nothing is left under the final key.
            if variant in ("video", "image"):
                raise pb.TransientError("The download was interrupted.") from exc
            continue
        except pb.ProviderError:
            if variant in ("video", "image"):
                raise
            continue
        finally:
            download.release()
        archived[variant] = {"key": key, "content_type": mime, "size": obj.size}
    return archived
