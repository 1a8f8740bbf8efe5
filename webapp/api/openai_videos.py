"""OpenAI Videos API (`/v1/videos`), so the official `openai` SDK works against Reelay
with `base_url=".../v1"` and a Reelay API token as the key. Answers are the SDK's own
``Video`` (see ``schemas``); omitted fields take the defaults the SDK documents."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from ..domain.validation import ValidationError, decode_data_url, parse_int
from ..extensions import csrf, limiter
from ..services import catalog, content, history, tasks
from ..services.tasks import NewTask, TaskError
from . import schemas as s
from .auth import api_limit, rate_key, token_required
from .serializers import openai_video
from .spec import BEARER, Response, spec
from .spec import body as read_body

bp = Blueprint("openai_videos", __name__, url_prefix="/v1")
csrf.exempt(bp)

# What the SDK sends when a field is left out (openai/resources/videos.py docstrings).
DEFAULT_MODEL, DEFAULT_SECONDS, DEFAULT_SIZE = "sora-2", "4", "720x1280"
ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    429: "rate_limit_error",
}
ERRORS = {f"HTTP_{code}": s.OpenAIError for code in (400, 401, 403, 404, 409, 429)}


def fail(status: int, message: str, code: str, param: str | None = None, etype: str | None = None):
    etype = etype or ERROR_TYPES.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    return jsonify(
        {"error": {"message": message, "type": etype, "param": param, "code": code}}
    ), status


def _limits(view):
    return limiter.limit(api_limit, key_func=rate_key)(token_required(fail)(view))


def _doc(**kw):
    """Declare a route: its request model and its answers (validated, documented)."""
    ok = kw.pop("ok", None)
    codes = {"HTTP_200": ok} if ok is not None else {}
    return spec.validate(
        resp=Response(**codes, **ERRORS), tags=["OpenAI Videos API"], security=BEARER, **kw
    )


@bp.errorhandler(ValidationError)
def _validation(exc: ValidationError):
    exc = exc.renamed({**s.VideoCreate.aliases(), "provider": "model"})
    return fail(400, exc.message, exc.code, exc.field)


@bp.errorhandler(TaskError)
def _task_error(exc: TaskError):
    if exc.code == "budget_exceeded":
        # OpenAI's own answer for a spent quota; its SDK raises RateLimitError and, told
        # so by the header, does not retry.
        body, status = fail(429, exc.message, "insufficient_quota", etype="insufficient_quota")
        return body, status, {"x-should-retry": "false"}
    return fail(exc.status, exc.message, exc.code)


def _model_for(model: str) -> str:
    """Reelay's model name for a model the client named: Reelay's own names
    (``sora_video2``) and upstream names (``sora-2``) alike. Routing picks the provider."""
    offers = catalog.offers()
    if any(o.spec.name == model for o in offers):
        return model
    for o in offers:
        if o.spec.upstream == model and o.spec.media_type == "VIDEO":
            return o.spec.name
    return model


def _reference() -> bytes | None:
    """``input_reference``: an uploaded file, or JSON ``{"image_url": "data:…"}``."""
    if not request.is_json:
        upload = request.files.get("input_reference")
        if upload and upload.filename:
            return upload.read(current_app.config["MAX_IMAGE_BYTES"] + 1)
        return None
    ref = request.context.json.reference_image
    if ref is None:
        return None
    url = ref.image_url if isinstance(ref, s.ImageReference) else None
    if not url or not url.startswith("data:"):
        raise ValidationError(
            {
                "reference_image": 'input_reference must be {"image_url": "data:…"} or a file upload.'
            },
            "invalid_image",
        )
    return decode_data_url(url, "input_reference")


@bp.post("/videos")
@_limits
@_doc(json=s.VideoCreate, form=s.VideoCreate, ok=s.Video)
def create():
    body = read_body()
    requested = body.model or DEFAULT_MODEL
    model = _model_for(requested)
    task, _created = tasks.create(
        g.api_user,
        NewTask(
            prompt=body.prompt,
            model=model,
            size=body.size or DEFAULT_SIZE,
            seconds=parse_int(
                body.seconds if body.seconds is not None else DEFAULT_SECONDS, "seconds"
            ),
            image=_reference(),
            idempotency_key=request.headers.get("Idempotency-Key"),
            api_model=requested,
            api_token_id=g.api_token.id,
        ),
    )
    return openai_video(task).model_dump(mode="json")


def _video(video_id: str):
    task = tasks.get_for_user(g.api_user, video_id)
    if task is None or task.media_type != "VIDEO":
        raise TaskError(f"No video found with id '{video_id[:80]}'.", "video_not_found", 404)
    return task


@bp.get("/videos/<video_id>")
@_limits
@_doc(ok=s.Video)
def retrieve(video_id):
    return openai_video(_video(video_id)).model_dump(mode="json")


@bp.get("/videos")
@_limits
@_doc(query=s.VideoListQuery, ok=s.VideoList)
def list_videos():
    q = request.context.query
    raw = q.limit
    limit = 20 if raw in (None, "") else (int(raw) if raw.isdigit() and len(raw) < 6 else 0)
    if not 1 <= limit <= 100:
        raise ValidationError({"limit": "limit must be between 1 and 100."}, "invalid_limit")
    order = q.order or "desc"
    if order not in ("asc", "desc"):
        raise ValidationError({"order": "order must be asc or desc."}, "invalid_order")
    try:
        rows, has_more = history.video_page(g.api_user, q.after, limit, order)
    except LookupError:
        raise ValidationError(
            {"after": "after must be the id of one of your videos."}, "invalid_cursor"
        ) from None
    page = s.VideoList(
        data=[openai_video(t) for t in rows],
        first_id=rows[0].video_id if rows else None,
        last_id=rows[-1].video_id if rows else None,
        has_more=has_more,
    )
    return page.model_dump(mode="json")


@bp.delete("/videos/<video_id>")
@_limits
@_doc(ok=s.VideoDeleted)
def delete(video_id):
    task = _video(video_id)
    kept = tasks.delete(g.api_user, task.video_id)
    headers = {"Reelay-Upstream": "kept: this provider cannot delete its copy"} if kept else {}
    return s.VideoDeleted(id=video_id, deleted=True).model_dump(mode="json"), 200, headers


@bp.post("/videos/<video_id>/remix")
@_limits
@_doc(json=s.VideoRemix, form=s.VideoRemix, ok=s.Video)
def remix(video_id):
    body = read_body()
    _video(video_id)
    task, _ = tasks.remix(
        g.api_user,
        video_id,
        body.prompt,
        idempotency_key=request.headers.get("Idempotency-Key"),
        api_token_id=g.api_token.id,
    )
    return openai_video(task).model_dump(mode="json")


@bp.get("/videos/<video_id>/content")
@_limits
def download(video_id):
    """A file, streamed (with Range): documented by ``spec.CONTENT_ROUTE``."""
    task = _video(video_id)
    return content.serve_content(task, request.args.get("variant") or "video", request)
