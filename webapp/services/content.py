"""Serve a task's result: from the archive (with HTTP Range), else streamed from the
upstream until the archive has it. The browser never sees an upstream URL or key."""

from __future__ import annotations

from flask import Request

from ..domain import statuses as st
from ..models import VideoTask
from ..providers import base as pb
from ..storage import serve, serve_stream
from . import archive, catalog
from .tasks import TaskError

VARIANTS = ("video", "thumbnail", "spritesheet", "image")


def serve_content(task: VideoTask, variant: str, request: Request, download: bool = False):
    variant = variant or "video"
    if variant not in VARIANTS:
        raise TaskError("variant must be video, thumbnail or spritesheet.", "invalid_variant", 400)
    if task.media_type == st.IMAGE and variant == "video":
        variant = "image"
    if task.status != st.COMPLETED:
        raise TaskError("The result is not ready yet.", "not_ready", 409)
    entry = (task.archive or {}).get(variant)
    store = archive.store()
    if entry and store.exists(entry["key"]):
        ext = entry["key"].rsplit(".", 1)[-1]
        name = f"{task.video_id}-{variant}.{ext}" if download else None
        return serve(store, entry["key"], request=request, download_name=name, max_age=3600)
    return _stream_from_upstream(task, variant, request)


def _stream_from_upstream(task: VideoTask, variant: str, request: Request):
    if task.provider is None or not task.external_task_id:
        raise TaskError("This result is not available.", "content_unavailable", 404)
    if variant not in archive.variants_for(task.media_type, catalog.capabilities(task.provider)):
        raise TaskError(f"This provider has no {variant}.", "variant_unavailable", 404)
    if task.error_code == "content_expired":
        raise TaskError(task.error_message, "content_expired", 410)
    adapter = catalog.adapter_for(task.provider)
    handles = (task.upstream_data or {}).get("handles") or {}
    try:
        dl = adapter.download(
            task.external_task_id, handles, "video" if variant == "image" else variant
        )
    except pb.ContentExpired:
        raise TaskError(
            "The provider's copy has expired and Reelay had not archived it.",
            "content_expired",
            410,
        ) from None
    except pb.ProviderError as exc:
        raise TaskError(
            f"The provider could not send the file: {exc.message}", "upstream_error", 502
        ) from None
    return serve_stream(
        dl.chunks,
        archive.safe_type(variant, dl.content_type),
        dl.length,
        request=request,
        close=dl.release,
    )
