"""Task use cases: create, remix, register an external job, cancel, refresh, read.

Creating commits the QUEUED row (and its first event) before anything is sent
upstream, then submits once inline; if the upstream is down, slow or
rate-limiting, the row stays QUEUED and the poller keeps trying with backoff until
the deadline. A retried create with the same idempotency key returns the first task.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..domain import statuses as st
from ..domain.catalog import ASPECT_RATIOS, resolve_shape
from ..domain.validation import ValidationError, check_image, check_prompt
from ..extensions import db
from ..models import Provider, SubmitAttempt, TaskEvent, User, VideoTask
from ..models.base import utcnow
from ..providers import base as pb
from . import archive, attempts, catalog, leases, lifecycle, orphans

VIDEO_ID = re.compile(r"video_[0-9a-f]{32}")  # always .fullmatch: "$" lets a newline through


class TaskError(ValueError):
    """A refused action on an existing task; ``code`` is stable for the APIs."""

    def __init__(self, message: str, code: str, status: int = 409):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


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


def new_video_id() -> str:
    return "video_" + uuid.uuid4().hex


# ---- reads ------------------------------------------------------------------------


def get_for_user(user: User, video_id: str) -> VideoTask | None:
    """The owner's task (admins see all). Anything else is "not found", never "forbidden"."""
    if not video_id or len(video_id) > 64:
        return None
    task = db.session.scalar(select(VideoTask).where(VideoTask.video_id == video_id))
    if task is None or (task.user_id != user.id and not user.is_admin):
        return None
    return task


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


def _validate(req: NewTask):
    prompt = check_prompt(req.prompt)
    if not req.model:
        raise ValidationError({"model": "Choose a model."}, "model_required")
    offer = catalog.find_offer(req.model, req.provider_id)
    spec = offer.spec
    if req.aspect_ratio and req.aspect_ratio not in ASPECT_RATIOS:
        raise ValidationError(
            {"aspect_ratio": "Aspect ratio must be one of 16:9, 9:16 or 1:1."},
            "invalid_aspect_ratio",
        )
    size, aspect, seconds = resolve_shape(spec, req.size, req.aspect_ratio, req.seconds)
    if size and spec.sizes and size not in spec.sizes:
        raise ValidationError(
            {"size": f"Size {size[:20]} is not available; choose one of {', '.join(spec.sizes)}."},
            "invalid_size",
        )
    if seconds is not None and spec.seconds_options and seconds not in spec.seconds_options:
        allowed = ", ".join(str(s) for s in spec.seconds_options)
        raise ValidationError(
            {"seconds": f"Duration must be one of {allowed} seconds."}, "invalid_seconds"
        )
    image = mime = None
    if req.image:
        if not spec.accepts_image or pb.CAP_IMAGE_INPUT not in catalog.capabilities(offer.provider):
            raise ValidationError(
                {"reference_image": "This model does not accept reference images."},
                "image_not_supported",
            )
        image, mime = check_image(req.image, current_app.config["MAX_IMAGE_BYTES"])
    elif spec.requires_image:
        raise ValidationError(
            {"reference_image": "This model edits an image: attach a reference image."},
            "image_required",
        )
    options = _options(offer.provider, req.options)
    return offer, prompt, size, aspect, seconds, image, mime, options


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
        db.session.add(task)
        db.session.flush()
        db.session.add(
            TaskEvent(task_id=task.id, kind="status", to_status=task.status, message=message)
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if task.reference_image_key:
            archive.store().delete(task.reference_image_key)
        existing = _replay(user, key, request_hash)
        if existing is None:
            raise
        return existing, False
    return task, True


def create(user: User, req: NewTask, *, submit: bool = True) -> tuple[VideoTask, bool]:
    """Validate, store, then submit once. Returns (task, created)."""
    key = _check_key(req.idempotency_key)
    offer, prompt, size, aspect, seconds, image, mime, options = _validate(req)
    rhash = _request_hash(
        "create",
        offer.provider.id,
        offer.spec.name,
        prompt,
        size,
        aspect,
        seconds,
        options,
        hashlib.sha256(image).hexdigest() if image else None,
        req.api_model,
    )
    existing = _replay(user, key, rhash)
    if existing is not None:
        return existing, False
    task = VideoTask(
        video_id=new_video_id(),
        provider_id=offer.provider.id,
        model=offer.spec.name,
        upstream_model=offer.spec.upstream,
        prompt=prompt,
        size=size,
        aspect_ratio=aspect,
        seconds=seconds,
        media_type=offer.spec.media_type,
        options={**options, "api_model": req.api_model} if req.api_model else options,
        status=st.QUEUED,
        progress=0,
        upstream_data={},
        archive={},
    )
    if image:
        task.reference_image_key = archive.save_reference(task.video_id, image, mime)
    task, created = _insert(user, task, "Task created; submitting to the provider.", key, rhash)
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


def refreshed_at(task: VideoTask) -> str | None:
    return (task.upstream_data or {}).get("refreshed_at")


def delete(user: User, video_id: str) -> bool:
    """Remove a task and its archived files (OpenAI's DELETE). Its upstream job is
    handed to the ledger first, which stops (and deletes) it at the provider: inside
    this request when it can, else by the poller's sweep; a create still in flight is
    stopped the moment it answers. Returns True when the provider can neither delete
    nor cancel a job (new-api, LiteLLM, relays), so its copy stays there."""
    task = get_for_user(user, video_id)
    if task is None:
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
