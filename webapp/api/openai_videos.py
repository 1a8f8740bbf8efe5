"""OpenAI Videos API (`/v1/videos`), so the official `openai` SDK works against Reelay
with `base_url=".../v1"` and a Reelay API token as the key."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import and_, or_, select

from ..domain.validation import ValidationError, decode_data_url, parse_int
from ..extensions import csrf, db, limiter
from ..models import VideoTask
from ..services import catalog, content, tasks
from ..services.tasks import NewTask, TaskError
from .auth import api_limit, rate_key, token_required
from .serializers import openai_video

bp = Blueprint("openai_videos", __name__, url_prefix="/v1")
csrf.exempt(bp)

ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    429: "rate_limit_error",
}


def fail(status: int, message: str, code: str, param: str | None = None):
    etype = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return jsonify(
        {"error": {"message": message, "type": etype, "param": param, "code": code}}
    ), status


def _limits(view):
    return limiter.limit(api_limit, key_func=rate_key)(token_required(fail)(view))


# OpenAI's request names for the fields the service checks (``param`` in errors).
OPENAI_NAMES = {"reference_image": "input_reference", "provider": "model"}


@bp.errorhandler(ValidationError)
def _validation(exc: ValidationError):
    exc = exc.renamed(OPENAI_NAMES)
    return fail(400, exc.message, exc.code, exc.field)


@bp.errorhandler(TaskError)
def _task_error(exc: TaskError):
    return fail(exc.status, exc.message, exc.code)


def _model_name(model: str | None, provider_hint=None) -> tuple[str | None, int | None]:
    """Accept Reelay's model names and upstream names (``sora-2``) alike."""
    if not model:
        offers = catalog.offers()
        video = [o for o in offers if o.spec.media_type == "VIDEO"]
        return (video[0].spec.name, video[0].provider.id) if video else (None, None)
    offers = catalog.offers()
    for o in offers:
        if o.spec.name == model:
            return o.spec.name, o.provider.id
    for o in offers:
        if o.spec.upstream == model and o.spec.media_type == "VIDEO":
            return o.spec.name, o.provider.id
    return model, None


@bp.post("/videos")
@_limits
def create():
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ValidationError({"body": "Send a JSON object."}, "invalid_json")
        ref = data.get("input_reference")
        image = None
        if isinstance(ref, dict) and isinstance(ref.get("image_url"), str):
            if not ref["image_url"].startswith("data:"):
                raise ValidationError(
                    {"input_reference": "Only data: URLs are accepted for image_url."},
                    "invalid_image",
                )
            image = decode_data_url(ref["image_url"], "input_reference")
        elif ref is not None:
            raise ValidationError(
                {
                    "input_reference": 'input_reference must be {"image_url": "data:..."} or a file upload.'
                },
                "invalid_image",
            )
    else:
        data = request.form.to_dict()
        upload = request.files.get("input_reference")
        image = (
            upload.read(current_app.config["MAX_IMAGE_BYTES"] + 1)
            if upload and upload.filename
            else None
        )
    for name in ("prompt", "model", "size"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise ValidationError({name: f"{name} must be a string."}, "invalid_type")
    model, provider_id = _model_name(data.get("model"))
    task, _created = tasks.create(
        g.api_user,
        NewTask(
            prompt=data.get("prompt"),
            model=model,
            provider_id=provider_id,
            size=data.get("size"),
            seconds=parse_int(data.get("seconds"), "seconds"),
            image=image,
            idempotency_key=request.headers.get("Idempotency-Key"),
        ),
    )
    return jsonify(openai_video(task))


def _get(video_id: str) -> VideoTask:
    task = tasks.get_for_user(g.api_user, video_id)
    if task is None:
        raise TaskError(f"No video found with id '{video_id[:80]}'.", "video_not_found", 404)
    return task


@bp.get("/videos/<video_id>")
@_limits
def retrieve(video_id):
    return jsonify(openai_video(_get(video_id)))


@bp.get("/videos")
@_limits
def list_videos():
    raw = request.args.get("limit")
    limit = 20 if raw in (None, "") else (int(raw) if raw.isdigit() and len(raw) < 6 else 0)
    if not 1 <= limit <= 100:
        raise ValidationError({"limit": "limit must be between 1 and 100."}, "invalid_limit")
    order = request.args.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise ValidationError({"order": "order must be asc or desc."}, "invalid_order")
    stmt = select(VideoTask).where(VideoTask.user_id == g.api_user.id)
    after = request.args.get("after")
    if after:
        cursor = tasks.get_for_user(g.api_user, after)
        if cursor is None or cursor.user_id != g.api_user.id:
            raise ValidationError(
                {"after": "after must be the id of one of your videos."}, "invalid_cursor"
            )
        if order == "desc":
            stmt = stmt.where(
                or_(
                    VideoTask.created_at < cursor.created_at,
                    and_(VideoTask.created_at == cursor.created_at, VideoTask.id < cursor.id),
                )
            )
        else:
            stmt = stmt.where(
                or_(
                    VideoTask.created_at > cursor.created_at,
                    and_(VideoTask.created_at == cursor.created_at, VideoTask.id > cursor.id),
                )
            )
    cols = (
        (VideoTask.created_at.desc(), VideoTask.id.desc())
        if order == "desc"
        else (VideoTask.created_at, VideoTask.id)
    )
    rows = list(db.session.scalars(stmt.order_by(*cols).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return jsonify(
        {
            "object": "list",
            "data": [openai_video(t) for t in rows],
            "first_id": rows[0].video_id if rows else None,
            "last_id": rows[-1].video_id if rows else None,
            "has_more": has_more,
        }
    )


@bp.delete("/videos/<video_id>")
@_limits
def delete(video_id):
    task = _get(video_id)
    tasks.delete(g.api_user, task.video_id)
    return jsonify({"id": video_id, "object": "video.deleted", "deleted": True})


@bp.post("/videos/<video_id>/remix")
@_limits
def remix(video_id):
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict):
        raise ValidationError({"body": "Send a JSON object."}, "invalid_json")
    if data.get("prompt") is not None and not isinstance(data["prompt"], str):
        raise ValidationError({"prompt": "prompt must be a string."}, "invalid_type")
    task, _ = tasks.remix(
        g.api_user,
        video_id,
        data.get("prompt"),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return jsonify(openai_video(task))


@bp.get("/videos/<video_id>/content")
@_limits
def download(video_id):
    task = _get(video_id)
    return content.serve_content(task, request.args.get("variant", "video"), request)
