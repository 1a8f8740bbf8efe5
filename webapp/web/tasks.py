"""Task pages: new, task page + its live fragment, content, actions, history, stats."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.datastructures import FileStorage, ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from ..domain.statuses import COMPLETED
from ..domain.validation import ValidationError, parse_int
from ..htmx_utils import is_htmx, render
from ..models.base import utcnow
from ..read_only import read_only
from ..services import budgets, catalog, content, history, progress, stats, tasks
from ..services.tasks import NewTask, TaskError
from .downloads import csv_download
from .forms import EmptyForm, NewTaskForm

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


def _task_or_404(video_id: str, load: str = "task"):
    if request.endpoint == "tasks.content" and _signed_ok():
        task = tasks.get_by_video_id(video_id)
        if task is None:
            abort(404)
        return task
    task = tasks.get_for_user(current_user, video_id, load)
    if task is None:
        abort(404)
    return task


# ---- new task ---------------------------------------------------------------------------


def _routed(offers: list) -> list:
    """One offer per model that several providers serve (chosen as "best available")."""
    by_model: dict[str, list] = {}
    for o in offers:
        by_model.setdefault(o.spec.name, []).append(o)
    return [group[0] for group in by_model.values() if len(group) > 1]


def _new_page(form=None, status=200):
    offers = catalog.offers()
    return (
        render_template(
            "tasks/new.html",
            offers=offers,
            routed=_routed(offers),
            caps=catalog.capabilities,
            shapes=catalog.shapes,
            form=form or NewTaskForm(),
            recent=history.recent(current_user, limit=5),
            standing=budgets.standing(current_user),
            max_image_bytes=current_app.config["MAX_IMAGE_BYTES"],
        ),
        status,
    )


def _values_from(video_id: str | None) -> dict:
    """The form filled in from one of the user's tasks ("Use as a new task")."""
    source = tasks.get_for_user(current_user, video_id) if video_id else None
    if source is None or source.user_id != current_user.id:
        return {}
    options = {
        k: v if k != "n" else str(v)
        for k, v in (source.options or {}).items()
        if k in catalog.EXTRA_OPTIONS and v not in (None, False)
    }
    return {
        "prompt": source.prompt,
        "model": f"{source.provider_id or ''}:{source.model}",
        "size": source.size or "",
        "aspect_ratio": source.aspect_ratio or "",
        "seconds": str(source.seconds or ""),
        "reference_from": source.video_id if source.reference_image_key else "",
        **options,
    }


@bp.get("/tasks/new")
def new():
    return _new_page(NewTaskForm(data=_values_from(request.args.get("from"))))


def _upload_cap() -> int:
    """The new-task form may carry more than the image limit, so an oversized image is
    read far enough to be refused next to its field, with the prompt kept."""
    return max(64 * 1024 * 1024, current_app.config["MAX_IMAGE_BYTES"] * 4)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    if request.endpoint == "tasks.create":
        # The body was refused unread: the page is rendered as for an empty form.
        request.__dict__.update(form=ImmutableMultiDict(), files=ImmutableMultiDict())
        mb = current_app.config["MAX_IMAGE_BYTES"] // (1024 * 1024)
        form = NewTaskForm(formdata=None)
        form.add_errors(
            {
                "reference_image": f"That upload is far over the {mb} MB limit; choose a smaller image."
            }
        )
        return _new_page(form, 413)
    return exc


@bp.post("/tasks")
def create():
    request.max_content_length = _upload_cap()
    form = NewTaskForm()
    form.validate()  # the CSRF token and unstorable characters; the service checks the rest
    if form.csrf_failed:
        abort(400)
    provider_id, model = form.provider_and_model()
    upload = form.reference_image.data
    if not isinstance(upload, FileStorage):
        upload = None  # a text field posted under the file's name is no upload
    image = (
        upload.read(current_app.config["MAX_IMAGE_BYTES"] + 1)
        if upload and upload.filename
        else tasks.reference_of(current_user, form.reference_from.data)
    )
    try:
        if form.field_errors():  # characters no database can store: refused as they are
            raise ValidationError(form.field_errors(), "invalid_characters")
        req = NewTask(
            prompt=form.prompt.data,
            model=model or None,
            provider_id=catalog.parse_provider_id(provider_id),
            size=form.size.data or None,
            aspect_ratio=form.aspect_ratio.data or None,
            seconds=parse_int(form.seconds.data, "seconds"),
            image=image,
            options=form.options(catalog.EXTRA_OPTIONS, request.form),
            idempotency_key="form:" + (form.idempotency_key.data or uuid.uuid4().hex)[:64],
        )
        task, _created = tasks.create(current_user, req)
    except ValidationError as exc:
        form.add_errors(exc.errors, NewTaskForm.ALIASES)
        if image and upload and upload.filename and not form.reference_image.errors:
            # Browsers never refill a file field: say so rather than drop it silently.
            form.reference_image.errors = ["Your image was fine, but please choose it again."]
        return _new_page(form, 422)
    except TaskError as exc:
        form.add_errors({"budget" if exc.code == "budget_exceeded" else "prompt": exc.message})
        return _new_page(form, exc.status)
    return redirect(url_for("tasks.show", video_id=task.video_id), 303)


# ---- one task ------------------------------------------------------------------------------


def _live(task) -> dict:
    return {
        "task": task,
        "typical": progress.typical_seconds(task.model) if not task.is_terminal else None,
        "elapsed": ((task.completed_at or utcnow()) - task.created_at).total_seconds(),
        # A running task's elapsed time ticks in the browser (static/js/app.js), from
        # its start: the polled fragment is often the browser's kept copy.
        "since": task.created_at.replace(tzinfo=UTC).timestamp(),
        # Only a completed task offers provider actions (remix): a running one's fragment
        # never loads its provider.
        "caps": catalog.capabilities(task.provider)
        if task.status == COMPLETED and task.provider
        else frozenset(),
        "refreshed_at": tasks.refreshed_at(task),
        "refresh_error": (task.upstream_data or {}).get("refresh_error"),
    }


@bp.get("/tasks/<video_id>")
@read_only
def show(video_id):
    task = _task_or_404(video_id, load="page")
    return render_template(
        "tasks/show.html",
        server_now=time.time(),  # the browser's clock, set right for elapsed times
        remixes=history.remixes_of(task),
        inputs=tasks.inputs(task),
        **_live(task),
    )


MAX_BULK = 100


@bp.post("/tasks/bulk")
def bulk():
    """The gallery's "download selected" (one streamed zip) and "delete selected"."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    ids = request.form.getlist("ids")[:MAX_BULK]
    chosen = [t for t in (tasks.get_for_user(current_user, v) for v in ids) if t is not None]
    target = request.form.get("back") or ""
    if not target.startswith("/tasks") or target.startswith("//") or "\\" in target:
        target = url_for("tasks.history", view="grid")  # only back to the history, never away
    back = redirect(target, 303)
    if not chosen:
        flash("Select at least one task first.", "error")
        return back
    if request.form.get("action") == "zip":
        if not any(t.status == "COMPLETED" for t in chosen):
            flash("None of the selected tasks has a file yet: only completed ones do.", "error")
            return back
        return Response(
            stream_with_context(content.zip_of(chosen)),
            mimetype="application/zip",
            headers={"Content-Disposition": 'attachment; filename="reelay-selection.zip"'},
        )
    if request.form.get("action") == "delete":
        kept = sum(1 for t in chosen if _delete_once(t.video_id))
        message = f"Deleted {len(chosen)} task{'s' if len(chosen) != 1 else ''}."
        if kept:
            message += (
                f" {kept} stay{'s' if kept == 1 else ''} at a provider that cannot delete jobs."
            )
        flash(message, "success")
        return back
    abort(400)


@bp.get("/tasks/<video_id>/reference")
def reference(video_id):
    task = _task_or_404(video_id)
    try:
        return content.serve_reference(task, request)
    except TaskError:
        abort(404)


def _delete_once(video_id: str) -> bool:
    """Delete, where a task deleted meanwhile (another tab) counts as done; True when
    the provider keeps its own copy."""
    try:
        return tasks.delete(current_user, video_id)
    except TaskError as exc:
        if exc.code != "not_found":
            raise
        return False


@bp.post("/tasks/<video_id>/delete")
def delete(video_id):
    if not EmptyForm().validate_on_submit():
        abort(400)
    _task_or_404(video_id)
    kept = _delete_once(video_id)  # deleted meanwhile (a second click): done already
    message = "Task deleted, with its archived files."
    if kept:
        message += " The provider keeps its own copy: it cannot delete or cancel jobs."
    flash(message, "success")
    return redirect(url_for("tasks.history"), 303)


@bp.get("/tasks/<video_id>/live")
@read_only
def live(video_id):
    """The polled fragment; reads only our database. A running task's fragment has an
    ETag, so the browser asks "changed?" (If-None-Match) on each poll and keeps its copy
    on a 304: an unchanged task is answered from one small query, neither loaded nor
    rendered. The finished fragment is sent with 286, which stops htmx 2 polling."""
    if request.if_none_match:
        mark = progress.live_mark(current_user, video_id)
        if mark is not None and request.if_none_match.contains_weak(_live_etag(mark)):
            return _revalidated(make_response("", 304), mark)
    task = _task_or_404(video_id, load="live")
    shown = _live(task)
    resp = make_response(render_template("partials/_task_live.html", **shown))
    mark = progress.live_mark_of(task, shown["typical"])
    if mark is not None:
        return _revalidated(resp, mark)
    if task.is_terminal and not task.pending_action:
        resp.status_code = 286
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _live_etag(mark: str) -> str:
    """The fragment also depends on who asks: the user, and the CSRF token in its forms
    (one per session), so another session's copy never validates; and on its markup, so
    a copy kept from before a deploy that changed it does not either."""
    token = session.get(current_app.config["WTF_CSRF_FIELD_NAME"], "")
    said = f"{_live_markup()}.{current_user.id}.{token}.{mark}"
    return hashlib.sha256(said.encode()).hexdigest()[:24]


LIVE_TEMPLATES = ("partials/_task_live.html", "macros/tasks.html")


def _live_markup() -> str:
    """A digest of the fragment's templates, read once per process (the same in every
    worker and host that serves the same release)."""
    digest = current_app.extensions.get("reelay_live_markup")
    if digest is None:
        env = current_app.jinja_env
        sources = "".join(env.loader.get_source(env, name)[0] for name in LIVE_TEMPLATES)
        digest = current_app.extensions["reelay_live_markup"] = hashlib.sha256(
            sources.encode()
        ).hexdigest()[:12]
    return digest


def _revalidated(resp, mark: str):
    resp.set_etag(_live_etag(mark))
    resp.headers["Cache-Control"] = "private, no-cache"  # kept, but asked about each time
    return resp


@bp.get("/tasks/<video_id>/row")
@read_only
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
@read_only
def history_():
    query = history.parse_query(request.args)
    if request.args.get("format") == "csv":
        return csv_download(history.csv_rows(current_user, query), "reelay-history.csv")
    page = history.page_for(current_user, query)
    return render(
        "tasks/history.html",
        "partials/_history.html",
        page=page,
        query=query,
        filters=history.filter_choices(current_user),
    )


@bp.get("/stats", endpoint="stats")
@read_only
def stats_():
    report = stats.from_args(request.args, current_user.id)
    if request.args.get("format") == "csv":
        return csv_download(
            stats.days_csv(report), f"reelay-stats-{report.date_from}-{report.date_to}.csv"
        )
    return render_template(
        "tasks/stats.html",
        report=report,
        scope="mine",
        filters=history.filter_choices(current_user),
        days_csv_url=url_for("tasks.stats", format="csv", **stats.url_args(report)),
    )
