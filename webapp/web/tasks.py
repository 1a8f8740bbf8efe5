"""Task pages: new, task page + its live fragment, content, actions, history, stats."""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from ..domain.validation import ValidationError, parse_int
from ..htmx_utils import is_htmx, render
from ..services import catalog, content, history, stats, tasks
from ..services.tasks import NewTask, TaskError
from .forms import EmptyForm

bp = Blueprint("tasks", __name__)


@bp.before_request
def _require_login():
    if request.endpoint == "tasks.content" and _signed_ok():
        return None  # a signed link (API clients) stands in for the session
    return login_required(lambda: None)()


def _signed_ok() -> bool:
    sig = request.args.get("sig")
    video_id = (request.view_args or {}).get("video_id", "")
    return bool(sig) and tasks.check_content_signature(
        sig, video_id, request.args.get("variant", "video")
    )


def _task_or_404(video_id: str):
    if request.endpoint == "tasks.content" and _signed_ok():
        task = tasks.get_by_video_id(video_id)
        if task is None:
            abort(404)
        return task
    task = tasks.get_for_user(current_user, video_id)
    if task is None:
        abort(404)
    return task


# ---- new task ---------------------------------------------------------------------------


def _new_page(values=None, errors=None, status=200):
    values = values or {}
    values.setdefault("idempotency_key", uuid.uuid4().hex)
    return (
        render_template(
            "tasks/new.html",
            offers=catalog.offers(),
            caps=catalog.capabilities,
            values=values,
            errors=errors or {},
            form=EmptyForm(),
            recent=history.recent(current_user, limit=5),
        ),
        status,
    )


@bp.get("/tasks/new")
def new():
    return _new_page()


@bp.post("/tasks")
def create():
    form = request.form
    if not EmptyForm().validate_on_submit():
        abort(400)
    provider_id, _, model = (form.get("model") or "").partition(":")
    upload = request.files.get("reference_image")
    image = (
        upload.read(current_app.config["MAX_IMAGE_BYTES"] + 1)
        if upload and upload.filename
        else None
    )
    try:
        req = NewTask(
            prompt=form.get("prompt"),
            model=model or None,
            provider_id=catalog.parse_provider_id(provider_id),
            size=form.get("size") or None,
            aspect_ratio=form.get("aspect_ratio") or None,
            seconds=parse_int(form.get("seconds"), "seconds"),
            image=image,
            options={k: form.get(k) for k in catalog.EXTRA_OPTIONS if k in form},
            idempotency_key="form:" + (form.get("idempotency_key") or uuid.uuid4().hex)[:64],
        )
        task, _created = tasks.create(current_user, req)
    except ValidationError as exc:
        errors = dict(exc.errors)
        if image and "reference_image" not in errors:
            # Browsers never refill a file field: say so rather than drop it silently.
            errors["reference_image"] = "Your image was fine, but please choose it again."
        return _new_page(dict(form), errors, 422)
    except TaskError as exc:
        return _new_page(dict(form), {"prompt": exc.message}, exc.status)
    return redirect(url_for("tasks.show", video_id=task.video_id), 303)


# ---- one task ------------------------------------------------------------------------------


def _live(task) -> dict:
    return {
        "task": task,
        "caps": catalog.capabilities(task.provider) if task.provider else frozenset(),
        "form": EmptyForm(),
        "refreshed_at": tasks.refreshed_at(task),
    }


@bp.get("/tasks/<video_id>")
def show(video_id):
    task = _task_or_404(video_id)
    return render_template("tasks/show.html", remixes=history.remixes_of(task), **_live(task))


@bp.get("/tasks/<video_id>/live")
def live(video_id):
    """The polled fragment. Reads only our database; 286 stops htmx 2 polling at the end."""
    task = _task_or_404(video_id)
    resp = make_response(render_template("partials/_task_live.html", **_live(task)))
    if task.is_terminal and not task.pending_action:
        resp.status_code = 286
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/tasks/<video_id>/row")
def row(video_id):
    task = _task_or_404(video_id)
    resp = make_response(
        render_template(
            "partials/_task_row.html",
            task=task,
            admin=current_user.is_admin and bool(request.args.get("admin")),
        )
    )
    if task.is_terminal:
        resp.status_code = 286
    return resp


@bp.route("/tasks/<video_id>/content", methods=["GET", "HEAD"], endpoint="content")
def content_(video_id):
    task = _task_or_404(video_id)
    try:
        return content.serve_content(
            task,
            request.args.get("variant", "video"),
            request,
            download=bool(request.args.get("download")),
        )
    except TaskError as exc:
        return render_template(
            "errors/error.html", status=exc.status, title="Not available", message=exc.message
        ), exc.status


def _after_action(task, error: str | None = None, status: int = 200):
    if is_htmx():
        ctx = _live(task)
        ctx["action_error"] = error
        return render_template("partials/_task_live.html", **ctx), status if not error else 200
    return redirect(url_for("tasks.show", video_id=task.video_id), 303)


@bp.post("/tasks/<video_id>/cancel")
def cancel(video_id):
    task = _task_or_404(video_id)
    try:
        task = tasks.cancel(current_user, video_id)
    except TaskError as exc:
        return _after_action(task, exc.message)
    return _after_action(task)


@bp.post("/tasks/<video_id>/refresh")
def refresh(video_id):
    task = _task_or_404(video_id)
    try:
        task = tasks.request_refresh(current_user, video_id)
    except TaskError as exc:
        return _after_action(task, exc.message)
    return _after_action(task)


@bp.post("/tasks/<video_id>/remix")
def remix(video_id):
    source = _task_or_404(video_id)
    try:
        task, _ = tasks.remix(
            current_user,
            video_id,
            request.form.get("prompt"),
            idempotency_key="remix:"
            + (request.form.get("idempotency_key") or uuid.uuid4().hex)[:64],
        )
    except (ValidationError, TaskError) as exc:
        ctx = _live(source)
        ctx["remix_error"] = (
            exc.errors.get("prompt", exc.message)
            if isinstance(exc, ValidationError)
            else exc.message
        )
        ctx["remix_prompt"] = request.form.get("prompt", "")
        if is_htmx():
            return render_template("partials/_task_live.html", **ctx)
        return render_template("tasks/show.html", remixes=history.remixes_of(source), **ctx), 422
    if is_htmx():
        return "", 204, {"HX-Redirect": url_for("tasks.show", video_id=task.video_id)}
    return redirect(url_for("tasks.show", video_id=task.video_id), 303)


# ---- history & stats -------------------------------------------------------------------------


@bp.get("/tasks", endpoint="history")
def history_():
    query = history.parse_query(request.args)
    page = history.page_for(current_user, query)
    return render(
        "tasks/history.html",
        "partials/_history.html",
        page=page,
        query=query,
        filters=history.filter_choices(current_user),
    )


@bp.get("/stats", endpoint="stats")
def stats_():
    report = stats.report(
        user_id=current_user.id, date_from=request.args.get("from"), date_to=request.args.get("to")
    )
    return render_template("tasks/stats.html", report=report, scope="mine")
