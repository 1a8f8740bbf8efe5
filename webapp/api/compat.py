"""The replaced backend's JSON API (`/api/...`) and its sibling gateway's query routes,
with the `{success, data, message}` / `{success: false, message, code}` envelope.

Unlike the old backend, every create route submits the job.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from ..domain.validation import ValidationError, decode_data_url, parse_int
from ..extensions import csrf, limiter
from ..ratelimits import login_limited
from ..services import accounts, catalog, history, login_throttle, stats, tasks
from ..services.tasks import NewTask, TaskError
from .auth import api_limit, rate_key, token_required
from .serializers import compat_task, content_url, gateway_query

bp = Blueprint("compat", __name__)
csrf.exempt(bp)


def ok(data, message: str = "OK", status: int = 200):
    return jsonify({"success": True, "data": data, "message": message}), status


def fail(status: int, message: str, code: str, errors: dict | None = None):
    body = {"success": False, "message": message, "code": code}
    if errors:
        body["errors"] = errors
    return jsonify(body), status


def invalid(exc: ValidationError):
    return fail(422, exc.message, exc.code, exc.errors)


def task_error(exc: TaskError):
    return fail(exc.status, exc.message, exc.code)


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError(
            {"body": "Send a JSON object with Content-Type: application/json."}, "invalid_json"
        )
    return data


def strings(data: dict, *names: str) -> None:
    """Fields that must be strings when present (schema check with a stable code)."""
    for name in names:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise ValidationError({name: f"{name} must be a string."}, "invalid_type")


def _bool(value) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


def _limits(view):
    return limiter.limit(api_limit, key_func=rate_key)(token_required(fail)(view))


def _read_limits(view):
    """A POST that only reads (the gateway query): a read-only token may call it."""
    return limiter.limit(api_limit, key_func=rate_key)(token_required(fail, reads=True)(view))


@bp.errorhandler(ValidationError)
def _validation(exc):
    return invalid(exc)


@bp.errorhandler(TaskError)
def _task_error(exc):
    return task_error(exc)


# ---- accounts ------------------------------------------------------------------------------


def _token_payload(user, message):
    _row, token = accounts.create_token(user, "API login")
    return ok(
        {"token": token, "user": {"id": user.id, "email": user.email, "role": user.role}}, message
    )


@bp.post("/api/auth/register")
@login_limited
def register():
    data = json_body()
    strings(data, "email", "password", "invite")
    email = str(data.get("email") or "").strip()
    if "@" not in email or len(email) > 254:
        raise ValidationError({"email": "Enter a valid email address."}, "invalid_email")
    try:
        user = accounts.register(email, str(data.get("password") or ""), data.get("invite"))
    except accounts.AccountError as exc:
        if exc.code in ("signup_closed", "invite_required"):
            return fail(403, exc.message, exc.code)
        raise ValidationError({exc.field: exc.message}, exc.code) from None
    if not user.approved:
        return ok({"pending": True}, "Registered; an admin must approve the account first.", 202)
    return _token_payload(user, "Registered")[0], 201


@bp.post("/api/auth/login")
@login_limited
def login():
    data = json_body()
    strings(data, "email", "password")
    email, address = str(data.get("email") or ""), request.remote_addr
    wait = login_throttle.wait_seconds(email, address)
    if wait:
        resp = fail(
            429, f"Too many failed logins for this account; try again in {wait} s.", "rate_limited"
        )
        return resp[0], 429, {"Retry-After": str(wait)}
    try:
        user = accounts.authenticate(email, str(data.get("password") or ""))
    except accounts.AccountError as exc:
        if exc.code == "invalid_credentials":
            login_throttle.failed(email, address)
        return fail(401 if exc.code == "invalid_credentials" else 403, exc.message, exc.code)
    login_throttle.succeeded(email, address)
    return _token_payload(user, "Logged in")


# ---- tasks -------------------------------------------------------------------------------------


# The service names fields as the pages do; each route reports them as its request did.
COMPAT_NAMES = {
    "seconds": "duration",
    "aspect_ratio": "aspectRatio",
    "reference_image": "referenceImage",
    "provider": "apiConfigId",
}
RELAY_NAMES = {"reference_image": "input_reference", "provider": "apiConfigId"}


def _provider_id(value):
    if value in (None, ""):
        return None
    pid = catalog.parse_provider_id(value)
    if pid is None:
        raise ValidationError(
            {"apiConfigId": "apiConfigId must be a provider id."}, "invalid_provider"
        )
    return pid


def _create(req: NewTask, names: dict):
    try:
        return tasks.create(g.api_user, req)
    except ValidationError as exc:
        raise exc.renamed(names) from None


@bp.post("/api/video/tasks")
@_limits
def create_task():
    data = json_body()
    image = None
    if data.get("referenceImage"):
        if not isinstance(data["referenceImage"], str):
            raise ValidationError(
                {"referenceImage": "referenceImage must be a base64 data URL."}, "invalid_image"
            )
        image = decode_data_url(data["referenceImage"])
    strings(data, "prompt", "model", "size", "aspectRatio")
    req = NewTask(
        prompt=data.get("prompt"),
        model=data.get("model"),
        provider_id=_provider_id(data.get("apiConfigId")),
        size=data.get("size"),
        aspect_ratio=data.get("aspectRatio"),
        seconds=parse_int(data.get("duration"), "duration"),
        image=image,
        options={k: data[k] for k in ("watermark", "hd", "private", "n") if k in data},
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    task, created = _create(req, COMPAT_NAMES)
    return ok(
        compat_task(task),
        "Task created" if created else "Existing task (same Idempotency-Key)",
        201 if created else 200,
    )


@bp.get("/api/video/tasks")
@_limits
def list_tasks():
    args = request.args
    size = history._int(args.get("pageSize"), 20, lo=1, hi=100)
    order_by = {"createdAt": "created", "completedAt": "completed", "duration": "duration"}.get(
        args.get("orderBy") or "createdAt", "created"
    )
    q = history.parse_query({**args.to_dict(), "sort": order_by}, page_size=size)
    page = history.api_page_for(g.api_user, q)
    return ok(
        {
            "tasks": [compat_task(t) for t in page.items],
            "total": page.total,
            "page": page.page,
            "pageSize": size,
        }
    )


def _get(video_id):
    task = tasks.get_for_user(g.api_user, video_id)
    if task is None:
        raise TaskError("Task not found.", "not_found", 404)
    return task


@bp.get("/api/video/tasks/<video_id>")
@_limits
def get_task(video_id):
    return ok(compat_task(_get(video_id)))


@bp.get("/api/video/tasks/<video_id>/content")
@_limits
def get_content(video_id):
    task = _get(video_id)
    return ok(
        {
            "videoId": task.video_id,
            "externalVideoId": task.external_task_id,
            "url": content_url(task),
        }
    )


@bp.post("/api/video/tasks/<video_id>/refresh-url")
@_limits
def refresh_url(video_id):
    _get(video_id)
    task = tasks.refresh_now(g.api_user, video_id)
    return ok(
        {
            "videoId": task.video_id,
            "externalVideoId": task.external_task_id,
            "videoUrl": content_url(task),
            "status": task.status,
            "refreshedAt": tasks.refreshed_at(task),
        },
        "URL refreshed",
    )


@bp.post("/api/video/tasks/<video_id>/cancel")
@_limits
def cancel_task(video_id):
    return ok(compat_task(tasks.cancel(g.api_user, video_id)), "Task cancelled")


@bp.post("/api/video/tasks/<video_id>/remix")
@_limits
def remix_task(video_id):
    data = json_body()
    strings(data, "prompt", "model")
    task, created = tasks.remix(
        g.api_user,
        video_id,
        data.get("prompt"),
        data.get("model"),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return ok(compat_task(task), "Remix created", 201 if created else 200)


@bp.get("/api/video/stats")
@_limits
def video_stats():
    return ok(stats.api_counts(g.api_user.id))


@bp.post("/api/video/mapping")
@_limits
def mapping():
    data = json_body()
    strings(data, "externalTaskId", "videoId", "model", "prompt")
    task = tasks.register_external(
        g.api_user,
        data.get("externalTaskId"),
        data.get("apiConfigId"),
        data.get("model"),
        video_id=data.get("videoId"),
        prompt=data.get("prompt"),
    )
    return ok(compat_task(task), "Mapping recorded; tracking the upstream job", 201)


# ---- the relay route (multipart) -----------------------------------------------------------------


@bp.post("/api/relay/sora/videos")
@_limits
def relay_create():
    form = request.form
    upload = request.files.get("input_reference")
    image = (
        upload.read(current_app.config["MAX_IMAGE_BYTES"] + 1)
        if upload and upload.filename
        else None
    )
    req = NewTask(
        prompt=form.get("prompt"),
        model=form.get("model"),
        provider_id=_provider_id(form.get("apiConfigId")),
        size=form.get("size"),
        aspect_ratio=form.get("aspect_ratio"),
        seconds=parse_int(form.get("seconds"), "seconds"),
        image=image,
        options={
            k: (form.get(k) if k == "n" else _bool(form.get(k)))
            for k in ("watermark", "hd", "private", "n")
            if k in form
        },
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    task, created = _create(req, RELAY_NAMES)
    data = {
        "videoId": task.video_id,
        "externalTaskId": task.external_task_id,
        "status": task.status.lower(),
        "progress": task.progress,
    }
    return ok(
        data,
        "Submitted"
        if task.external_task_id
        else "Queued; will be submitted when the provider accepts it",
        201 if created else 200,
    )


@bp.get("/api/relay/sora/videos/<video_id>")
@_limits
def relay_get(video_id):
    return ok(compat_task(_get(video_id)))


# ---- the sibling gateway's query routes ---------------------------------------------------------


@bp.post("/v1/videos/query")
@_read_limits
def gateway_query_post():
    data = json_body()
    video_id = data.get("video_id")
    if not isinstance(video_id, str) or not video_id:
        raise ValidationError({"video_id": "video_id is required."}, "video_id_required")
    return jsonify(gateway_query(_get(video_id)))


@bp.get("/v1/videos/query/<video_id>")
@_limits
def gateway_query_get(video_id):
    return jsonify(gateway_query(_get(video_id)))
