"""Serve a task's result: from the archive (with HTTP Range), else streamed from the
upstream until the archive has it. The browser never sees an upstream URL or key."""

from __future__ import annotations

from collections.abc import Iterator

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


class _Pipe:
    """A write-only file whose bytes are handed on as they come (zip streaming)."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


SKIPPED_NOTE = "NOT-INCLUDED.txt"


def _why_no_file(task: VideoTask) -> str:
    if not task.is_terminal:
        return "it is still running"
    if task.status == st.FAILED:
        return "it failed, so it has no file"
    if task.status == st.CANCELLED:
        return "it was cancelled, so it has no file"
    if task.error_code == "content_expired":
        return "its file expired at the provider before it could be archived"
    return "its file is not archived yet (try again in a minute)"


def zip_of(chosen: list[VideoTask]) -> Iterator[bytes]:
    """One zip of the chosen tasks' archived results, streamed as it is written (never
    held in memory or on disk); files are stored, not compressed (video is already).
    A task without a file is named, with the reason, in NOT-INCLUDED.txt."""
    import zipfile

    store = archive.store()
    pipe = _Pipe()
    skipped = []
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED) as zf:
        for task in chosen:
            variant = "image" if task.media_type == st.IMAGE else "video"
            entry = (task.archive or {}).get(variant)
            if task.status != st.COMPLETED or not entry or not store.exists(entry["key"]):
                skipped.append((task, _why_no_file(task)))
                continue
            ext = entry["key"].rsplit(".", 1)[-1]
            chunks, close = store.open(entry["key"])
            try:
                with zf.open(f"{task.video_id}.{ext}", "w", force_zip64=True) as out:
                    for chunk in chunks:
                        out.write(chunk)
                        yield pipe.take()
            finally:
                close()
            yield pipe.take()
        if skipped:
            lines = [f"{t.video_id}: not included: {why}." for t, why in skipped]
            zf.writestr(SKIPPED_NOTE, "\n".join(lines) + "\n")
    yield pipe.take()


def serve_reference(task: VideoTask, request: Request):
    """The reference image the task was made from (already authorised by the caller)."""
    store = archive.store()
    if not task.reference_image_key or not store.exists(task.reference_image_key):
        raise TaskError("This task has no reference image.", "no_reference", 404)
    return serve(store, task.reference_image_key, request=request, max_age=3600)


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
