"""Task → the models each API promises (``schemas``)."""

from __future__ import annotations

import calendar
from datetime import datetime

from flask import url_for

from ..domain import statuses as st
from ..services import tasks as task_service
from . import schemas as s


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") + "Z" if dt else None


def _epoch(dt: datetime | None) -> int | None:
    return calendar.timegm(dt.utctimetuple()) if dt else None


def content_url(task, variant: str = "video") -> str | None:
    """A signed, expiring link to Reelay's own content route (never the upstream's)."""
    if task.status != st.COMPLETED:
        return None
    if task.media_type == st.IMAGE and variant == "video":
        variant = "image"
    sig = task_service.sign_content(task.video_id, variant)
    return url_for(
        "tasks.content", video_id=task.video_id, variant=variant, sig=sig, _external=True
    )


def iso(dt: datetime | None) -> str | None:
    return _iso(dt)


def compat_task(task) -> s.CompatTask:
    opts = task.options or {}
    metadata = s.TaskMetadata(
        externalTaskId=task.external_task_id,
        provider=task.provider.name if task.provider else None,
    )
    if opts.get("type") == "remix":
        metadata.remix_from = opts.get("remix_from")
        metadata.remix_from_external = opts.get("remix_from_external")
        metadata.type = "remix"
    return s.CompatTask(
        videoId=task.video_id,
        status=task.status,
        progress=task.progress or 0,
        videoUrl=content_url(task),
        thumbnailUrl=content_url(task, "thumbnail")
        if (task.archive or {}).get("thumbnail")
        else None,
        prompt=task.prompt,
        model=task.model,
        mediaType=task.media_type,
        duration=task.seconds,
        size=task.size,
        aspectRatio=task.aspect_ratio,
        error=s.TaskErrorInfo(code=task.error_code, message=task.error_message)
        if task.status == st.FAILED
        else None,
        createdAt=_iso(task.created_at),
        completedAt=_iso(task.completed_at),
        metadata=metadata,
    )


OPENAI_STATUS = {
    st.QUEUED: "queued",
    st.PROCESSING: "in_progress",
    st.COMPLETED: "completed",
    st.FAILED: "failed",
    st.CANCELLED: "failed",
}


def sdk_size(size: str | None) -> str:
    """The SDK's ``VideoSize`` for a task's frame size: the size itself when the protocol
    has it, else the one of the same orientation closest in area (the protocol can
    express no other; 1920x1080 reads as 1792x1024)."""
    if size in s.VIDEO_SIZES:
        return size
    try:
        w, h = (int(x) for x in (size or "").lower().split("x"))
    except ValueError:
        return "1280x720"
    if h > w:
        return "1024x1792" if w * h > 720 * 1280 else "720x1280"
    return "1792x1024" if w * h > 1280 * 720 else "1280x720"


def openai_video(task) -> s.Video:
    error = None
    if task.status == st.FAILED:
        error = s.VideoError(
            code=task.error_code or "failed", message=task.error_message or "Failed."
        )
    elif task.status == st.CANCELLED:
        error = s.VideoError(code="cancelled", message="The video was cancelled.")
    opts = task.options or {}
    return s.Video(
        id=task.video_id,
        model=opts.get("api_model") or task.upstream_model or task.model,
        status=OPENAI_STATUS[task.status],
        progress=task.progress or 0,
        created_at=_epoch(task.created_at),
        completed_at=_epoch(task.completed_at) if task.status in st.TERMINAL else None,
        expires_at=None,  # archived by Reelay: the content does not expire
        prompt=task.prompt,
        remixed_from_video_id=task.remix_of.video_id if task.remix_of else None,
        seconds=str(task.seconds or 0),
        size=sdk_size(task.size),
        error=error,
    )


GATEWAY_STATUS = {
    st.QUEUED: "processing",
    st.PROCESSING: "processing",
    st.COMPLETED: "success",
    st.FAILED: "failed",
    st.CANCELLED: "failed",
}


def gateway_query(task) -> s.GatewayQuery:
    """The sibling one-api gateway's query shape."""
    return s.GatewayQuery(
        task_id=task.external_task_id or task.video_id,
        video_id=task.video_id,
        task_status=GATEWAY_STATUS[task.status],
        message=task.error_message or ("cancelled" if task.status == st.CANCELLED else ""),
        duration=str(task.seconds) if task.seconds else None,
        video_result=content_url(task),
    )
