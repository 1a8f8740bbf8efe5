"""Task use cases: create, remix, register an external job, cancel, refresh, read.

Creating commits the QUEUED row (and its first event) before anything is sent
upstream, then submits once inline; if the upstream is down, slow or
rate-limiting, the row stays QUEUED and the poller keeps trying with backoff until
the deadline. A retried create with the same idempotency key returns the first task.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..domain import routing
from ..domain import statuses as st
from ..domain.catalog import ASPECT_RATIOS, aspect_of, resolve_shape
from ..domain.validation import (
    Findings,
    ValidationError,
    check_image,
    check_prompt,
    unstorable,
)
from ..extensions import db
from ..models import ApiToken, DeletedTask, Provider, SubmitAttempt, TaskEvent, User, VideoTask
from ..models.base import utcnow
from ..providers import base as pb
from . import archive, attempts, budgets, catalog, health, leases, lifecycle, locks, orphans

VIDEO_ID = re.compile(r"video_[0-9a-f]{32}")  # always .fullmatch: "$" lets a newline through


class TaskError(ValueError):
    """A refused action on an existing task; ``code`` is stable for the APIs."""

    def __init__(self, message: str, code: str, status: int = 409):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class BudgetExceeded(TaskError):
    """One more task would go over a budget or quota; the message says which."""

    def __init__(self, message: str, cap: str):
        super().__init__(message, "budget_exceeded", 429)
        self.cap = cap


class IdempotencyConflict(TaskError):
    def __init__(self):
        super().__init__(
            "This Idempotency-Key was already used with different parameters.",
            "idempotency_key_reused",
            422,
        )


@dataclass
class NewTask:
    prompt: str | None
    model: str | None
    provider_id: int | None = None
    size: str | None = None
    aspect_ratio: str | None = None
    seconds: int | None = None
    image: bytes | None = None
    options: dict = field(default_factory=dict)
    idempotency_key: str | None = None
    api_model: str | None = None  # the model name an API client asked for (echoed back)
    api_token_id: int | None = None  # the API token that made it (its caps apply too)


def new_video_id(media_type: str = st.VIDEO) -> str:
    """Our id for a new task: ``video_…`` (OpenAI's shape), ``image_…`` for an image."""
    return ("image_" if media_type == st.IMAGE else "video_") + uuid.uuid4().hex


# ---- reads ------------------------------------------------------------------------


# Prebuilt (a task's pages and its fragment every 2 s run these): SQLAlchemy skips
# building the statement and its cache key per call.
_BY_VIDEO_ID = select(VideoTask).where(VideoTask.video_id == bindparam("video_id"))
_TASK = _BY_VIDEO_ID.options(joinedload(VideoTask.provider))  # every page of a task shows it
_TASK_WITH_TIMELINE = _TASK.options(joinedload(VideoTask.events))
# The progress fragment, polled every 2 s: its events, not its provider (needed only
# once the task completes, for the Remix button; loaded then, on the last poll).
_TASK_LIVE = _BY_VIDEO_ID.options(joinedload(VideoTask.events))
_LOADS = {"task": _TASK, "page": _TASK_WITH_TIMELINE, "live": _TASK_LIVE}


def get_for_user(user: User, video_id: str, load: str = "task") -> VideoTask | None:
    """The owner's task (admins see all). Anything else is "not found", never "forbidden".
    ``load`` says what comes in the same query: "task" (with its provider), "page" (with
    its provider and events: the task page) or "live" (with its events: the fragment)."""
    if not possible_id(video_id):
        return None
    stmt = _LOADS[load]
    task = db.session.execute(stmt, {"video_id": video_id}).unique().scalar_one_or_none()
    if task is None or (task.user_id != user.id and not user.is_admin):
        return None
    return task


def possible_id(video_id) -> bool:
    """False for a form field or path no task can have (NUL, surrogates, too long)."""
    return isinstance(video_id, str) and 0 < len(video_id) <= 64 and not unstorable(video_id)


def get_by_video_id(video_id: str) -> VideoTask | None:
    """Only for requests already authorised by a signed link: the link stops working
    the moment its owner is deactivated."""
    task = db.session.scalar(select(VideoTask).where(VideoTask.video_id == video_id))
    if task is None or not task.user.is_active:
        return None
    return task


# ---- create -------------------------------------------------------------------------


def _options(provider: Provider, raw: dict) -> dict:
    allowed = set(provider.extra_options or [])
    out = {}
    for key, value in (raw or {}).items():
        if key not in allowed or value in (None, ""):
            continue
        if key == "n":
            try:
                n = int(value)
            except (TypeError, ValueError):
                n = 0
            if not 1 <= n <= 4:
                raise ValidationError(
                    {"n": "Number of outputs must be between 1 and 4."}, "invalid_n"
                )
            out["n"] = n
        else:
            out[key] = (
                value
                if isinstance(value, bool)
                else str(value).lower() in ("1", "true", "on", "yes")
            )
    return out


@dataclass(frozen=True)
class Shape:
    size: str | None
    aspect: str | None
    seconds: int | None
    options: dict


@dataclass(frozen=True)
class Plan:
    """A validated create: the route (every offer that can serve it, best first) and the
    one shape all of them serve."""

    route: list[catalog.Offer]
    prompt: str
    shape: Shape
    image: bytes | None
    mime: str | None

    @property
    def first(self) -> catalog.Offer:
        return self.route[0]

    def cost(self) -> float:
        """The most any provider on the route would charge (held against the budget)."""
        units = 1 if self.first.spec.media_type == st.IMAGE else (self.shape.seconds or 0)
        units *= int(self.shape.options.get("n") or 1)
        return max(float(o.provider.price_per_second or 0) * units for o in self.route)


_rng = random.Random()


def _cannot_make(aspect: str, size: str | None, own: frozenset[str]) -> bool:
    """Whether an offer would make another shape than ``aspect``: its provider asks for
    shapes itself (``own``), or else its size is the shape."""
    if own:
        return aspect not in own
    return aspect_of(size or "") not in (None, aspect)


def _shape(req: NewTask, offer: catalog.Offer) -> Shape:
    """What this offer makes of the request, or every reason it cannot serve it."""
    spec = offer.spec
    found = Findings()
    if req.aspect_ratio and req.aspect_ratio not in ASPECT_RATIOS:
        found.add(
            {"aspect_ratio": "Aspect ratio must be one of 16:9, 9:16 or 1:1."},
            "invalid_aspect_ratio",
        )
    size, aspect, seconds = resolve_shape(spec, req.size, req.aspect_ratio, req.seconds)
    own = catalog.own_aspects(offer) if req.aspect_ratio in ASPECT_RATIOS else frozenset()
    if req.size and req.aspect_ratio and aspect_of(req.size) not in (None, req.aspect_ratio):
        fitting = [s for s in spec.sizes if aspect_of(s) == req.aspect_ratio]
        hint = f"choose {' or '.join(fitting)}" if fitting else "choose another aspect ratio"
        found.add(
            {"size": f"Size {req.size[:20]} is not {req.aspect_ratio}; {hint}."},
            "size_aspect_mismatch",
        )
    elif req.aspect_ratio in ASPECT_RATIOS and _cannot_make(req.aspect_ratio, size, own):
        # it would make another shape, labelled as asked (a square "9:16")
        shapes = catalog.shapes(offer)
        found.add(
            {
                "aspect_ratio": f"{spec.label} makes {' or '.join(shapes)} only; "
                f"choose {'it' if len(shapes) == 1 else 'one of them'}."
            },
            "size_aspect_mismatch",
        )
    elif req.aspect_ratio and own and aspect_of(size or "") not in (None, req.aspect_ratio):
        size = None  # its provider makes that shape at a size of its choosing
    elif size and spec.sizes and size not in spec.sizes:
        found.add(
            {"size": f"Size {size[:20]} is not available; choose one of {', '.join(spec.sizes)}."},
            "invalid_size",
        )
    if seconds is not None and spec.seconds_options and seconds not in spec.seconds_options:
        allowed = ", ".join(str(s) for s in spec.seconds_options)
        found.add({"seconds": f"Duration must be one of {allowed} seconds."}, "invalid_seconds")
    if req.image and (
        not spec.accepts_image or pb.CAP_IMAGE_INPUT not in catalog.capabilities(offer.provider)
    ):
        found.add(
            {"reference_image": "This model does not accept reference images."},
            "image_not_supported",
        )
    if not req.image and spec.requires_image:
        found.add(
            {"reference_image": "This model edits an image: attach a reference image."},
            "image_required",
        )
    options = {}
    with found.check():
        options = _options(offer.provider, req.options)
    found.raise_any()
    return Shape(size, aspect, seconds, options)


def _ranked(offers: list[catalog.Offer]) -> list[catalog.Offer]:
    """Healthy providers first, then by priority, weighted at random among equals."""
    by_id = {o.provider.id: o for o in offers}
    up = health.available_many(list(by_id))
    candidates = [
        routing.Candidate(
            o.provider.id,
            o.provider.name,
            o.spec.upstream,
            o.provider.priority if o.provider.priority is not None else 100,
            float(o.provider.weight if o.provider.weight is not None else 1.0),
            up[o.provider.id],
        )
        for o in offers
    ]
    return [by_id[c.id] for c in routing.rank(candidates, _rng)]


def _plan(req: NewTask) -> Plan:
    """Validate a create and fix its route: the first offer that can serve it decides
    the shape; the others stay on the route only if they serve that same shape."""
    found, pictured = Findings(), Findings()  # the image's code comes last, as it always did
    prompt = image = mime = shape = None
    with found.check():
        prompt = check_prompt(req.prompt)
    if req.image:
        with pictured.check():
            image, mime = check_image(req.image, current_app.config["MAX_IMAGE_BYTES"])

    def done():
        found.add(pictured.errors, pictured.code)
        found.raise_any()

    if not req.model:
        found.add({"model": "Choose a model."}, "model_required")
        done()
    offers = []
    with found.check():
        offers = catalog.find_offers(req.model, req.provider_id)
    if not offers:
        done()
    errors: dict[int, ValidationError] = {}
    route: list[catalog.Offer] = []
    for offer in _ranked(offers):
        try:
            if shape is None:
                shape = _shape(req, offer)
            else:
                fixed = replace(
                    req, size=shape.size, aspect_ratio=shape.aspect, seconds=shape.seconds
                )
                if _shape(fixed, offer) != shape:
                    continue
        except ValidationError as exc:
            errors[offer.provider.id] = exc
            continue
        route.append(offer)
    if not route:
        best = errors[offers[0].provider.id]  # the best-priority provider's reasons
        found.add(best.errors, best.code)
    done()
    return Plan(route, prompt, shape, image, mime)


def _request_hash(*parts) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _replay(user: User, key: str | None, request_hash: str) -> VideoTask | None:
    """The task an earlier request with this Idempotency-Key created (same body), None
    if there is none; the same key with a different body is refused."""
    if not key:
        return None
    existing = db.session.scalar(
        select(VideoTask).where(VideoTask.user_id == user.id, VideoTask.idempotency_key == key)
    )
    if existing is not None and existing.request_hash != request_hash:
        raise IdempotencyConflict()
    return existing


def _check_key(key: str | None) -> str | None:
    if key is None or key == "":
        return None
    key = key.strip()
    if not 1 <= len(key) <= 255:
        raise ValidationError(
            {"idempotency_key": "Idempotency-Key must be 1-255 characters."},
            "invalid_idempotency_key",
        )
    return key


def _insert(user: User, task: VideoTask, message: str, key: str | None, request_hash: str):
    """Commit the QUEUED row, leased to this request for its one inline step; returns
    (task, created). Two requests racing with one Idempotency-Key make one row: the
    loser gets the winner's task (or 422 for a different body), never an error."""
    now = utcnow()
    task.user_id = user.id
    task.video_id = task.video_id or new_video_id()
    task.idempotency_key = key
    task.request_hash = request_hash
    task.created_at = now
    task.deadline_at = now + timedelta(seconds=current_app.config["TASK_DEADLINE_SECONDS"])
    task.next_poll_at = now
    for column, value in leases.initial(now).items():
        setattr(task, column, value)
    try:
        _hold_budget(user, task)
        db.session.add(task)
        db.session.flush()
        db.session.add(
            TaskEvent(task_id=task.id, kind="status", to_status=task.status, message=message)
        )
        db.session.commit()
    except (IntegrityError, BudgetExceeded):
        db.session.rollback()
        if task.reference_image_key:
            archive.store().delete(task.reference_image_key)
        existing = _replay(user, key, request_hash)  # a racing twin got in first
        if existing is None:
            raise
        return existing, False
    return task, True


def _hold_budget(user: User, task: VideoTask) -> None:
    """Check every cap under the owner's row lock, inside the insert's transaction: the
    next create of this user waits, then counts this task's reservation."""
    token = db.session.get(ApiToken, task.api_token_id) if task.api_token_id else None
    seconds = (task.seconds or 0) if task.media_type == st.VIDEO else 0
    over = budgets.reserve(user, token, float(task.reserved_cost or 0), seconds)
    if over is not None:
        raise BudgetExceeded(over.message, over.cap)


def create(user: User, req: NewTask, *, submit: bool = True) -> tuple[VideoTask, bool]:
    """Validate, route, check the budget, store, then submit once. Returns (task, created)."""
    key = _check_key(req.idempotency_key)
    plan = _plan(req)
    shape, first = plan.shape, plan.first
    rhash = _request_hash(
        "create",
        req.provider_id,
        first.spec.name,
        plan.prompt,
        shape.size,
        shape.aspect,
        shape.seconds,
        shape.options,
        hashlib.sha256(plan.image).hexdigest() if plan.image else None,
        req.api_model,
    )
    existing = _replay(user, key, rhash)
    if existing is not None:
        return existing, False
    options = shape.options
    route = routing.Route.of(
        [routing.Candidate(o.provider.id, o.provider.name, o.spec.upstream) for o in plan.route]
    )
    task = VideoTask(
        video_id=new_video_id(first.spec.media_type),
        provider_id=first.provider.id,
        model=first.spec.name,
        upstream_model=first.spec.upstream,
        prompt=plan.prompt,
        size=shape.size,
        aspect_ratio=shape.aspect,
        seconds=shape.seconds,
        media_type=first.spec.media_type,
        options={**options, "api_model": req.api_model} if req.api_model else options,
        status=st.QUEUED,
        progress=0,
        upstream_data={"route": route.to_json()},
        archive={},
        reserved_cost=plan.cost(),
        api_token_id=req.api_token_id,
    )
    if plan.image:
        task.reference_image_key = archive.save_reference(task.video_id, plan.image, plan.mime)
    message = "Task created; submitting to the provider."
    if len(plan.route) > 1:
        names = ", ".join(o.provider.name for o in plan.route)
        message = f"Task created; route: {names}. Submitting to {first.provider.name}."
    task, created = _insert(user, task, message, key, rhash)
    if created and submit:
        submit_inline(task)
    return task, created


def submit_inline(task: VideoTask) -> VideoTask:
    """The one inline attempt after create; the poller takes over if it does not stick."""
    lifecycle.run(leases.of_new(task))
    db.session.expire_all()
    return db.session.get(VideoTask, task.id)


def remix(
    user: User,
    video_id: str,
    prompt: str | None,
    model: str | None = None,
    idempotency_key: str | None = None,
    api_token_id: int | None = None,
) -> tuple[VideoTask, bool]:
    """A new task from the owner's completed one, on the same provider (and key)."""
    source = get_for_user(user, video_id)
    if source is None or source.user_id != user.id:
        raise TaskError("Task not found.", "not_found", 404)
    if source.status != st.COMPLETED or not source.external_task_id:
        raise TaskError("Only a completed video can be remixed.", "not_completed", 409)
    provider = source.provider
    if provider is None or not provider.enabled:
        raise TaskError("The provider of this video is not available.", "provider_unavailable", 409)
    if pb.CAP_REMIX not in catalog.capabilities(provider):
        raise TaskError("This provider cannot remix videos.", "remix_not_supported", 409)
    prompt = check_prompt(prompt)
    if model and model != source.model:
        raise ValidationError(
            {"model": "A remix keeps the model of the original video."}, "model_mismatch"
        )
    key = _check_key(idempotency_key)
    rhash = _request_hash("remix", source.id, prompt)
    existing = _replay(user, key, rhash)
    if existing is not None:
        return existing, False
    task = VideoTask(
        provider_id=source.provider_id,
        model=source.model,
        upstream_model=source.upstream_model,
        prompt=prompt,
        size=source.size,
        aspect_ratio=source.aspect_ratio,
        seconds=source.seconds,
        media_type=source.media_type,
        options={
            **(source.options or {}),
            "remix_from": source.video_id,
            "remix_from_external": source.external_task_id,
            "type": "remix",
        },
        status=st.QUEUED,
        progress=0,
        remix_of_id=source.id,
        upstream_data={},
        archive={},
        reserved_cost=float(provider.price_per_second or 0)
        * (1 if source.media_type == st.IMAGE else (source.seconds or 0)),
        api_token_id=api_token_id,
    )
    task, created = _insert(
        user, task, f"Remix of {source.video_id} created; submitting.", key, rhash
    )
    if created:
        submit_inline(task)
    return task, created


# Ids as upstreams issue them (OpenAI "video_…", fal UUIDs, Replicate ids, Gemini
# "models/…/operations/…"); anything else could steer a keyed request elsewhere.
EXTERNAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/=-]{0,254}")


def register_external(
    user: User,
    external_id: str | None,
    provider_id,
    model: str | None,
    video_id: str | None = None,
    prompt: str | None = None,
) -> VideoTask:
    """The replaced backend's "mapping" mode: the client created the upstream job itself;
    Reelay records the pair and tracks it to the end."""
    errors = {}
    external_id = external_id.strip() if isinstance(external_id, str) else ""
    video_id = video_id if isinstance(video_id, str) else None
    model = model if isinstance(model, str) else None
    if not EXTERNAL_ID.fullmatch(external_id) or ".." in external_id or "//" in external_id:
        errors["externalTaskId"] = (
            "Give the upstream job id: up to 255 letters, digits and - _ . : / = characters."
        )
    provider = catalog.provider_by_id(provider_id)
    if provider is None or not provider.enabled:
        errors["apiConfigId"] = "Choose an enabled provider."
    if video_id and (
        not VIDEO_ID.fullmatch(video_id)
        or db.session.scalar(select(VideoTask.id).where(VideoTask.video_id == video_id))
    ):
        errors["videoId"] = "videoId must look like video_<32 hex> and be unused (or leave it out)."
    if errors:
        raise ValidationError(errors, "invalid_mapping")
    if db.session.scalar(
        select(VideoTask.id).where(
            VideoTask.provider_id == provider.id, VideoTask.external_task_id == external_id
        )
    ):
        raise TaskError("This upstream job is already tracked.", "already_tracked", 409)
    spec = next((s for s in catalog.specs(provider) if s.name == model), None)
    now = utcnow()
    task = VideoTask(
        video_id=video_id or new_video_id(),
        user_id=user.id,
        provider_id=provider.id,
        model=(model or "external")[:100],
        upstream_model=spec.upstream if spec else model,
        prompt=(prompt or "(submitted outside Reelay)")[:32000],
        media_type=spec.media_type if spec else st.VIDEO,
        external_task_id=external_id,
        status=st.PROCESSING,
        progress=0,
        options={"type": "mapping"},
        upstream_data={},
        archive={},
        created_at=now,
        submitted_at=now,
        next_poll_at=now,
        deadline_at=now + timedelta(seconds=current_app.config["TASK_DEADLINE_SECONDS"]),
    )
    db.session.add(task)
    db.session.flush()
    db.session.add(
        TaskEvent(
            task_id=task.id,
            kind="submit",
            to_status=st.PROCESSING,
            message=f"Registered upstream job {external_id}; tracking it.",
        )
    )
    db.session.commit()
    return task


# ---- actions on an existing task ---------------------------------------------------------


def cancel(user: User, video_id: str) -> VideoTask:
    """Cancelled at once (compare-and-set, so it beats any in-flight poll or create);
    the provider is told by the poller: at once if the job exists, or as soon as a
    create that was in flight answers."""
    task = get_for_user(user, video_id)
    if task is None:
        raise TaskError("Task not found.", "not_found", 404)
    if task.is_terminal:
        raise TaskError(
            f"The task already ended ({st.LABELS[task.status].lower()}).", "already_finished", 409
        )
    now = utcnow()
    old = task.status
    upstream = bool(task.external_task_id or task.attempts)
    result = db.session.execute(
        update(VideoTask)
        .where(VideoTask.id == task.id, VideoTask.status.in_(st.ACTIVE))
        .values(
            status=st.CANCELLED,
            completed_at=now,
            pending_action="cancel" if upstream else None,
            next_poll_at=now if upstream else None,
            error_streak=0,
            version=VideoTask.version + 1,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(task)
        raise TaskError("The task ended before it could be cancelled.", "already_finished", 409)
    db.session.add(
        TaskEvent(
            task_id=task.id,
            kind="status",
            from_status=old,
            to_status=st.CANCELLED,
            message=f"Cancelled by {user.email}.",
        )
    )
    db.session.commit()
    db.session.refresh(task)
    return task


def request_refresh(user: User, video_id: str) -> VideoTask:
    """Ask the poller to re-check the upstream now (pages never wait on the upstream)."""
    task = get_for_user(user, video_id)
    if task is None:
        raise TaskError("Task not found.", "not_found", 404)
    if not task.external_task_id:
        raise TaskError("The task has not reached the provider yet.", "not_submitted", 409)
    if task.status in (st.FAILED, st.CANCELLED):
        raise TaskError(
            "Only a running or completed task can be refreshed.", "not_refreshable", 409
        )
    now = utcnow()
    values = {"next_poll_at": now, "updated_at": now, "version": VideoTask.version + 1}
    if task.status == st.COMPLETED:
        values.update(pending_action="refresh", error_streak=0)
    db.session.execute(
        update(VideoTask)
        .where(VideoTask.id == task.id, VideoTask.status == task.status)
        .values(**values)
    )
    db.session.commit()
    db.session.refresh(task)
    return task


def refresh_now(user: User, video_id: str) -> VideoTask:
    """API flavour: re-check the upstream inside the request and return the result."""
    task = request_refresh(user, video_id)
    _step_inline(task.id)
    db.session.expire_all()
    return db.session.get(VideoTask, task.id)


def _step_inline(task_id: int) -> bool:
    """Run the task's next step inside this request, under a lease like the poller's
    (so the two never act on it at once). False when someone else holds it."""
    lease = leases.claim(task_id)
    if lease is None:
        return False
    lifecycle.run(lease)
    return True


# ---- links ----------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="reelay-content")


def sign_content(video_id: str, variant: str = "video") -> str:
    return _serializer().dumps([video_id, variant])


def check_content_signature(token: str, video_id: str, variant: str) -> bool:
    try:
        vid, var = _serializer().loads(token, max_age=current_app.config["SIGNED_URL_TTL"])
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return False
    return vid == video_id and var == variant


def reference_of(user: User, video_id: str | None) -> bytes | None:
    """The reference image of one of the user's own tasks, to make a new task from."""
    source = get_for_user(user, video_id) if video_id else None
    if source is None or source.user_id != user.id or not source.reference_image_key:
        return None
    return archive.load_reference(source.reference_image_key)[0]


def inputs(task: VideoTask) -> dict:
    """What the task asked for, as sent to the provider (the task page shows it)."""
    options = {
        k: v
        for k, v in (task.options or {}).items()
        if k not in ("remix_from", "remix_from_external", "type", "api_model")
    }
    out = {
        "provider": task.provider.name if task.provider else None,
        "model": task.model,
        "upstream_model": task.upstream_model,
        "prompt": task.prompt,
        "size": task.size,
        "aspect_ratio": task.aspect_ratio,
        "seconds": task.seconds,
        "options": options,
        "reference_image": bool(task.reference_image_key),
    }
    if task.remix_of_id:
        out["remix_of"] = (task.options or {}).get("remix_from")
    return out


def refreshed_at(task: VideoTask) -> str | None:
    return (task.upstream_data or {}).get("refreshed_at")


def left_behind(task: VideoTask, runs_on: bool = False) -> DeletedTask:
    """What budgets and stats go on counting once the task is gone (no content). A task
    deleted while running ends as if cancelled; if its job ``runs_on`` at a provider
    that can neither stop nor delete it, it will be billed there, so it keeps the cost
    reserved for it."""
    ended = task.is_terminal
    return DeletedTask(
        video_id=task.video_id,
        user_id=task.user_id,
        provider_id=task.provider_id,
        api_token_id=task.api_token_id,
        model=task.model,
        media_type=task.media_type,
        status=task.status if ended else st.CANCELLED,
        seconds=task.seconds,
        cost=task.reserved_cost if runs_on and not ended else task.cost,
        created_at=task.created_at,
        completed_at=task.completed_at if ended else utcnow(),
    )


def delete(user: User, video_id: str) -> bool:
    """Remove a task and its archived files (OpenAI's DELETE). Its upstream job is
    handed to the ledger first, which stops (and deletes) it at the provider: inside
    this request when it can, else by the poller's sweep; a create still in flight is
    stopped the moment it answers. Returns True when the provider can neither delete
    nor cancel a job (new-api, LiteLLM, relays), so its copy stays there."""
    task = get_for_user(user, video_id)
    if task is None:
        raise TaskError("Task not found.", "not_found", 404)
    # What a poller wrote up to now (a finish, its cost) is what stays counted; one
    # writing after waits for this delete and then finds no row.
    locks.for_update(db.session, VideoTask, VideoTask.id, task.id)
    task = db.session.get(VideoTask, task.id, populate_existing=True)
    if task is None:  # a second delete of the same task, made while this one waited
        db.session.rollback()
        raise TaskError("Task not found.", "not_found", 404)
    caps = catalog.capabilities(task.provider) if task.provider is not None else frozenset()
    kept = bool(task.external_task_id) and not caps & {pb.CAP_DELETE, pb.CAP_CANCEL}
    store = archive.store()
    keys = [entry["key"] for entry in (task.archive or {}).values() if isinstance(entry, dict)]
    if task.reference_image_key:
        keys.append(task.reference_image_key)
    provider_id, external_id = task.provider_id, task.external_task_id
    attempts.ledger_for_deleted(task)
    db.session.execute(
        update(VideoTask).where(VideoTask.remix_of_id == task.id).values(remix_of_id=None)
    )
    ledger = list(
        db.session.scalars(select(SubmitAttempt.id).where(SubmitAttempt.task_id == task.id))
    )
    db.session.execute(
        update(SubmitAttempt).where(SubmitAttempt.task_id == task.id).values(task_id=None)
    )
    db.session.add(left_behind(task, runs_on=kept))
    db.session.delete(task)
    db.session.commit()
    for key in keys:
        store.delete(key)
    if external_id:
        ledger += list(
            db.session.scalars(
                select(SubmitAttempt.id).where(
                    SubmitAttempt.provider_id == provider_id,
                    SubmitAttempt.external_id == external_id,
                )
            )
        )
    orphans.clean_now(sorted(set(ledger)))
    return kept
