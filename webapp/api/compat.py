"""The replaced backend's JSON routes (/api/...) and its sibling gateway's query routes,
in their ``{success, data, message}`` envelope. Requests and answers are the models in
``schemas``; errors name each field as the request spelled it (its alias)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, g, jsonify, request

from ..domain.validation import ValidationError, decode_data_url, parse_int
from ..extensions import csrf, limiter
from ..ratelimits import login_limited
from ..services import accounts, catalog, history, login_throttle, stats, tasks
from ..services.tasks import NewTask, TaskError
from . import schemas as s
from .auth import api_limit, rate_key, token_required
from .serializers import compat_task, content_url, gateway_query, iso
from .spec import BEARER, Response, spec
from .spec import body as read_body

bp = Blueprint("compat", __name__)
csrf.exempt(bp)

ERRORS = {f"HTTP_{code}": s.CompatError for code in (400, 401, 403, 404, 409, 422, 429)}


def _envelope(model, name):
    return type(name, (s.Envelope[model],), {})


TaskAnswer = _envelope(s.CompatTask, "TaskAnswer")
TaskPageAnswer = _envelope(s.TaskPage, "TaskPageAnswer")
ContentAnswer = _envelope(s.ContentLink, "ContentAnswer")
RefreshAnswer = _envelope(s.RefreshedLink, "RefreshAnswer")
CountsAnswer = _envelope(s.Counts, "CountsAnswer")
RelayAnswer = _envelope(s.RelayTask, "RelayAnswer")
TokenAnswer = _envelope(s.TokenGrant, "TokenAnswer")
PendingAnswer = _envelope(s.Pending, "PendingAnswer")


def ok(data, message: str = "OK", status: int = 200):
    body = {"success": True, "data": data.model_dump(mode="json"), "message": message}
    return jsonify(body), status


def fail(status: int, message: str, code: str, errors: dict | None = None):
    body = {"success": False, "message": message, "code": code}
    if errors:
        body["errors"] = errors
    return jsonify(body), status


def _doc(answers: dict, auth: bool = True, **kw):
    return spec.validate(
        resp=Response(**answers, **ERRORS),
        tags=["Replaced backend API"],
        security=BEARER if auth else {},
        **kw,
    )


def _limits(view):
    return limiter.limit(api_limit, key_func=rate_key)(token_required(fail)(view))


def _read_limits(view):
    """A POST that only reads (the gateway query): a read-only token may call it."""
    return limiter.limit(api_limit, key_func=rate_key)(token_required(fail, reads=True)(view))


@bp.errorhandler(ValidationError)
def _validation(exc: ValidationError):
    return fail(422, exc.message, exc.code, exc.errors)


@bp.errorhandler(TaskError)
def _task_error(exc: TaskError):
    return fail(exc.status, exc.message, exc.code)


def _renamed(model, fn, *args, **kwargs):
    """Run a service call; its field errors come back named as ``model``'s request."""
    try:
        return fn(*args, **kwargs)
    except ValidationError as exc:
        raise exc.renamed(model.aliases()) from None


def _provider_id(value):
    if value in (None, ""):
        return None
    pid = catalog.parse_provider_id(value)
    if pid is None:
        raise ValidationError(
            {"provider": "apiConfigId must be a provider id."}, "invalid_provider"
        )
    return pid


def _get(video_id):
    task = tasks.get_for_user(g.api_user, video_id)
    if task is None:
        raise TaskError("Task not found.", "not_found", 404)
    return task


# ---- accounts ----------------------------------------------------------------------------


def _token_answer(user, message, status=200):
    _row, token = accounts.create_token(user, "API login")
    grant = s.TokenGrant(
        token=token, user=s.AccountInfo(id=user.id, email=user.email, role=user.role)
    )
    return ok(grant, message, status)


@bp.post("/api/auth/register")
@login_limited
@_doc({"HTTP_201": TokenAnswer, "HTTP_202": PendingAnswer}, auth=False, json=s.Register)
def register():
    body = read_body()
    if "@" not in body.email or len(body.email.strip()) > 254:
        raise ValidationError({"email": "Enter a valid email address."}, "invalid_email")
    try:
        user = accounts.register(body.email.strip(), body.password, body.invite)
    except accounts.AccountError as exc:
        if exc.code in ("signup_closed", "invite_required"):
            return fail(403, exc.message, exc.code)
        raise ValidationError({exc.field: exc.message}, exc.code) from None
    if not user.approved:
        return ok(
            s.Pending(pending=True), "Registered; an admin must approve the account first.", 202
        )
    return _token_answer(user, "Registered", 201)


@bp.post("/api/auth/login")
@login_limited
@_doc({"HTTP_200": TokenAnswer}, auth=False, json=s.Login)
def login():
    body = read_body()
    address = request.remote_addr
    wait = login_throttle.wait_seconds(body.email, address)
    if wait:
        resp = fail(
            429, f"Too many failed logins for this account; try again in {wait} s.", "rate_limited"
        )
        return resp[0], 429, {"Retry-After": str(wait)}
    try:
        user = accounts.authenticate(body.email, body.password)
    except accounts.AccountError as exc:
        if exc.code == "invalid_credentials":
            login_throttle.failed(body.email, address)
        return fail(401 if exc.code == "invalid_credentials" else 403, exc.message, exc.code)
    login_throttle.succeeded(body.email, address)
    return _token_answer(user, "Logged in")


# ---- tasks -------------------------------------------------------------------------------


def _flag(value) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


@bp.post("/api/video/tasks")
@_limits
@_doc({"HTTP_200": TaskAnswer, "HTTP_201": TaskAnswer}, json=s.TaskCreate)
def create_task():
    body = read_body()
    image = decode_data_url(body.reference_image) if body.reference_image else None
    options = {
        k: getattr(body, k)
        for k in ("watermark", "hd", "private", "n")
        if getattr(body, k) is not None
    }
    req = NewTask(
        prompt=body.prompt,
        model=body.model,
        provider_id=_provider_id(body.provider),
        size=body.size,
        aspect_ratio=body.aspect_ratio,
        seconds=parse_int(body.seconds, "seconds"),
        image=image,
        options=options,
        idempotency_key=request.headers.get("Idempotency-Key"),
        api_token_id=g.api_token.id,
    )
    task, created = _renamed(s.TaskCreate, tasks.create, g.api_user, req)
    message = "Task created" if created else "Existing task (same Idempotency-Key)"
    return ok(compat_task(task), message, 201 if created else 200)


ORDER_BY = {"createdAt": "created", "completedAt": "completed", "duration": "duration"}


@bp.get("/api/video/tasks")
@_limits
@_doc({"HTTP_200": TaskPageAnswer}, query=s.TaskListQuery)
def list_tasks():
    args = request.args
    size = history._int(args.get("pageSize"), 20, lo=1, hi=100)
    order_by = ORDER_BY.get(args.get("orderBy") or "createdAt", "created")
    q = history.parse_query({**args.to_dict(), "sort": order_by}, page_size=size)
    page = history.api_page_for(g.api_user, q)
    data = s.TaskPage(
        tasks=[compat_task(t) for t in page.items], total=page.total, page=page.page, pageSize=size
    )
    return ok(data)


@bp.get("/api/video/tasks/<video_id>")
@_limits
@_doc({"HTTP_200": TaskAnswer})
def get_task(video_id):
    return ok(compat_task(_get(video_id)))


@bp.get("/api/video/tasks/<video_id>/content")
@_limits
@_doc({"HTTP_200": ContentAnswer})
def get_content(video_id):
    task = _get(video_id)
    return ok(
        s.ContentLink(
            videoId=task.video_id, externalVideoId=task.external_task_id, url=content_url(task)
        )
    )


@bp.post("/api/video/tasks/<video_id>/refresh-url")
@_limits
@_doc({"HTTP_200": RefreshAnswer})
def refresh_url(video_id):
    _get(video_id)
    task = tasks.refresh_now(g.api_user, video_id)
    stamp = tasks.refreshed_at(task)
    data = s.RefreshedLink(
        videoId=task.video_id,
        externalVideoId=task.external_task_id,
        videoUrl=content_url(task),
        status=task.status,
        refreshedAt=iso(datetime.fromisoformat(stamp)) if stamp else None,
    )
    return ok(data, "URL refreshed")


@bp.post("/api/video/tasks/<video_id>/cancel")
@_limits
@_doc({"HTTP_200": TaskAnswer})
def cancel_task(video_id):
    return ok(compat_task(tasks.cancel(g.api_user, video_id)), "Task cancelled")


@bp.post("/api/video/tasks/<video_id>/remix")
@_limits
@_doc({"HTTP_200": TaskAnswer, "HTTP_201": TaskAnswer}, json=s.TaskRemix)
def remix_task(video_id):
    body = read_body()
    task, created = tasks.remix(
        g.api_user,
        video_id,
        body.prompt,
        body.model,
        idempotency_key=request.headers.get("Idempotency-Key"),
        api_token_id=g.api_token.id,
    )
    return ok(compat_task(task), "Remix created", 201 if created else 200)


@bp.get("/api/video/stats")
@_limits
@_doc({"HTTP_200": CountsAnswer})
def video_stats():
    return ok(s.Counts(**stats.api_counts(g.api_user.id)))


@bp.post("/api/video/mapping")
@_limits
@_doc({"HTTP_201": TaskAnswer}, json=s.Mapping)
def mapping():
    body = read_body()
    task = _renamed(
        s.Mapping,
        tasks.register_external,
        g.api_user,
        body.external_id,
        body.provider,
        body.model,
        video_id=body.video_id,
        prompt=body.prompt,
    )
    return ok(compat_task(task), "Mapping recorded; tracking the upstream job", 201)


# ---- the relay route (multipart) ---------------------------------------------------------


@bp.post("/api/relay/sora/videos")
@_limits
@_doc({"HTTP_200": RelayAnswer, "HTTP_201": RelayAnswer}, form=s.RelayCreate)
def relay_create():
    body = read_body()
    upload = request.files.get("input_reference")
    image = (
        upload.read(current_app.config["MAX_IMAGE_BYTES"] + 1)
        if upload and upload.filename
        else None
    )
    options = {
        k: (getattr(body, k) if k == "n" else _flag(getattr(body, k)))
        for k in ("watermark", "hd", "private", "n")
        if getattr(body, k) is not None
    }
    req = NewTask(
        prompt=body.prompt,
        model=body.model,
        provider_id=_provider_id(body.provider),
        size=body.size,
        aspect_ratio=body.aspect_ratio,
        seconds=parse_int(body.seconds, "seconds"),
        image=image,
        options=options,
        idempotency_key=request.headers.get("Idempotency-Key"),
        api_token_id=g.api_token.id,
    )
    task, created = _renamed(s.RelayCreate, tasks.create, g.api_user, req)
    data = s.RelayTask(
        videoId=task.video_id,
        externalTaskId=task.external_task_id,
        status=task.status.lower(),
        progress=task.progress or 0,
    )
    message = (
        "Submitted"
        if task.external_task_id
        else "Queued; will be submitted when the provider accepts it"
    )
    return ok(data, message, 201 if created else 200)


@bp.get("/api/relay/sora/videos/<video_id>")
@_limits
@_doc({"HTTP_200": TaskAnswer})
def relay_get(video_id):
    return ok(compat_task(_get(video_id)))


# ---- the sibling gateway's query routes --------------------------------------------------


@bp.post("/v1/videos/query")
@_read_limits
@_doc({"HTTP_200": s.GatewayQuery}, json=s.GatewayQueryBody)
def gateway_query_post():
    return gateway_query(_get(read_body().video_id)).model_dump(mode="json")


@bp.get("/v1/videos/query/<video_id>")
@_limits
@_doc({"HTTP_200": s.GatewayQuery})
def gateway_query_get(video_id):
    return gateway_query(_get(video_id)).model_dump(mode="json")
