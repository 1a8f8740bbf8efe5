"""One step in a task's life: look at the upstream (no database), then record what
happened (short transaction, compare-and-set).

``perform`` runs in the poller's thread pool or inline after a create; ``apply``
runs on the caller's thread. Every write is conditional on the caller still holding
the task's lease and the task still being active, so two processes can never both
finish a task and a cancel always wins over a late poll result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import DateTime, Integer, bindparam, exists, func, select, update
from sqlalchemy.orm import aliased

from ..domain import statuses as st
from ..domain.polling import backoff_delay, next_poll_delay
from ..extensions import db
from ..models import Provider, TaskEvent, VideoTask
from ..models.base import utcnow
from ..providers import base as pb
from . import archive, catalog, throttle

log = logging.getLogger(__name__)

RECONCILE_DELAYS = (5, 15, 30)  # seconds between looks for an ambiguous submit
# An upstream job counts as "ours" only if created this close to when the answer was lost
# (the request went out at most a read timeout earlier; allow for clock skew).
RECONCILE_WINDOW_SECONDS = 120
MAX_CANCEL_TRIES = 8  # upstream cancel attempts before Reelay stops asking
MAX_NOT_FOUND = 3


@dataclass
class Work:
    """A detached snapshot of what one step needs; safe to hand to another thread."""

    id: int
    video_id: str
    status: str
    pending_action: str | None
    external_task_id: str | None
    handles: dict
    provider_id: int | None
    provider_max_rps: float
    adapter: object | None
    capabilities: frozenset
    job: pb.Job | None
    remix_source: str | None
    remix_handles: dict
    media_type: str
    attempts: int
    error_streak: int
    created_at: datetime
    deadline_at: datetime | None
    archived: dict
    ambiguous_since: datetime | None
    reconcile_round: int
    data: dict  # upstream_data as claimed; only this worker may change it while leased


@dataclass
class Outcome:
    kind: str  # submitted | retry | ambiguous | failed | progress | completed | poll_error | action_done
    status: pb.UpstreamStatus | None = None
    external_id: str | None = None
    handles: dict | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    archived: dict = field(default_factory=dict)
    archive_note: str | None = None
    not_found: bool = False
    event: str | None = None
    reconciled: bool = False  # adopted from the upstream's list: guard against double adoption


def snapshot(task: VideoTask) -> Work:
    provider: Provider | None = task.provider
    adapter = None
    caps = frozenset()
    if provider is not None:
        caps = catalog.capabilities(provider)
        adapter = catalog.adapter_for(provider)
    job = None
    if provider is not None:
        image, mime = archive.load_reference(task)
        job = pb.Job(
            model=task.upstream_model or task.model,
            prompt=task.prompt,
            media_type=task.media_type,
            size=task.size,
            seconds=task.seconds,
            aspect_ratio=task.aspect_ratio,
            reference_image=image,
            reference_mime=mime,
            options={k: v for k, v in (task.options or {}).items() if k in catalog.EXTRA_OPTIONS},
            client_ref=task.video_id,
        )
    data = task.upstream_data or {}
    ambiguous = data.get("ambiguous_since")
    source = task.remix_of
    return Work(
        id=task.id,
        video_id=task.video_id,
        status=task.status,
        pending_action=task.pending_action,
        external_task_id=task.external_task_id,
        handles=dict(data.get("handles") or {}),
        provider_id=task.provider_id,
        provider_max_rps=float(provider.max_rps or 10) if provider else 10.0,
        adapter=adapter,
        capabilities=caps,
        job=job,
        remix_source=source.external_task_id if source is not None else None,
        remix_handles=dict((source.upstream_data or {}).get("handles") or {}) if source else {},
        media_type=task.media_type,
        attempts=task.attempts or 0,
        error_streak=task.error_streak or 0,
        created_at=task.created_at,
        deadline_at=task.deadline_at,
        archived=dict(task.archive or {}),
        ambiguous_since=datetime.fromisoformat(ambiguous) if ambiguous else None,
        reconcile_round=int(data.get("reconcile_round") or 0),
        data=dict(data),
    )


# ---- perform: talk to the upstream -------------------------------------------------


def perform(work: Work, store) -> Outcome:
    if work.adapter is None:
        return Outcome(
            "failed", code="provider_removed", message="The provider of this task was removed."
        )
    try:
        if work.pending_action == "cancel":
            return _cancel_upstream(work)
        if work.status == st.QUEUED:
            if work.ambiguous_since is not None:
                return _reconcile(work, store)
            return _submit(work, store)
        return _poll(work, store)
    except pb.ProviderError as exc:  # anything an adapter forgot to classify
        return Outcome("poll_error", code=exc.code, message=exc.message)
    except Exception:  # noqa: BLE001 - one bad task must not stop the sweep
        log.exception("unexpected error on task %s", work.video_id)
        return Outcome("poll_error", code="internal_error", message="Unexpected error; will retry.")


def _submit(work: Work, store) -> Outcome:
    if _deadline_passed(work, utcnow()):
        # Submitting now would start (and bill) a job nobody waits for any more.
        return Outcome(
            "failed",
            code="submit_timeout",
            message="Could not be submitted before the deadline; nothing was sent.",
        )
    throttle.acquire(work.provider_id, work.provider_max_rps)
    try:
        if work.remix_source:
            submitted = work.adapter.remix(work.remix_source, work.remix_handles, work.job)
        else:
            submitted = work.adapter.submit(work.job)
    except pb.AmbiguousError as exc:
        if pb.CAP_LIST in work.capabilities:
            return Outcome("ambiguous", code=exc.code, message=exc.message)
        return Outcome(
            "failed",
            code="submit_unconfirmed",
            message="The provider did not confirm the submission and cannot be asked about it; "
            "it was not resent, to avoid a duplicate job. Please try again.",
        )
    except pb.TransientError as exc:
        return Outcome("retry", code=exc.code, message=exc.message, retry_after=exc.retry_after)
    except pb.AuthError:
        return Outcome(
            "failed",
            code="upstream_auth",
            message="The provider refused Reelay's API key; an admin needs to check the provider settings.",
        )
    except pb.PermanentError as exc:
        return Outcome("failed", code=exc.code, message=exc.message)
    return _after_submit(work, submitted, store)


def _after_submit(work: Work, submitted: pb.Submitted, store) -> Outcome:
    outcome = Outcome(
        "submitted",
        status=submitted.status,
        external_id=submitted.external_id,
        handles=submitted.handles,
    )
    if submitted.inline_results:
        outcome.archived = archive.store_inline(store, work.video_id, submitted.inline_results)
        outcome.kind = "completed"
    elif submitted.status.state == pb.COMPLETED:
        work.external_task_id = submitted.external_id
        work.handles = submitted.handles
        return _complete(work, submitted.status, store, outcome)
    return outcome


def _reconcile(work: Work, store) -> Outcome:
    """An earlier create may have reached the upstream: look for it, never resend.

    Only a job created around the lost request, matching it, and tracked by no other
    task may be adopted, and only when exactly one such job exists: a shared upstream
    key means another user's identical prompt could otherwise be taken for this one."""
    last_round = work.reconcile_round + 1 >= len(RECONCILE_DELAYS)
    unconfirmed = Outcome(
        "failed",
        code="submit_unconfirmed",
        message="The provider never confirmed the submission and Reelay could not find it "
        "there; it was not resent, to avoid a duplicate job. Please try again.",
    )
    throttle.acquire(work.provider_id, work.provider_max_rps)
    window = timedelta(seconds=RECONCILE_WINDOW_SECONDS)
    try:
        found = work.adapter.find_submitted(
            work.job, work.ambiguous_since - window, work.ambiguous_since + window
        )
    except pb.TransientError as exc:
        if last_round:
            return unconfirmed
        return Outcome("ambiguous", code=exc.code, message=exc.message, retry_after=exc.retry_after)
    except pb.ProviderError as exc:
        found = []
        log.warning("reconcile failed for %s: %s", work.video_id, exc.code)
    candidates = _untracked(work.provider_id, found)
    if len(candidates) == 1:
        out = _after_submit(work, candidates[0], store)
        out.reconciled = True
        out.event = "Found the job the provider had accepted before the connection dropped."
        return out
    if len(candidates) > 1:
        return Outcome(
            "failed",
            code="submit_unconfirmed",
            message="The provider did not confirm the submission and several of its jobs "
            "match it, so Reelay adopted none and resent nothing. Please try again.",
        )
    return (
        unconfirmed
        if last_round
        else Outcome(
            "ambiguous", code="upstream_ambiguous", message="Still looking for the submitted job."
        )
    )


def _untracked(provider_id: int | None, found: list[pb.Submitted]) -> list[pb.Submitted]:
    ids = {s.external_id for s in found}
    if not ids:
        return []
    taken = set(
        db.session.scalars(
            select(VideoTask.external_task_id).where(
                VideoTask.provider_id == provider_id, VideoTask.external_task_id.in_(ids)
            )
        )
    )
    return [s for s in found if s.external_id not in taken]


def _poll(work: Work, store) -> Outcome:
    if not work.external_task_id:
        return Outcome(
            "failed", code="no_external_id", message="The task has no upstream id to track."
        )
    throttle.acquire(work.provider_id, work.provider_max_rps)
    try:
        status = work.adapter.status(work.external_task_id, work.handles)
    except pb.RateLimited as exc:
        return Outcome(
            "poll_error", code=exc.code, message=exc.message, retry_after=exc.retry_after
        )
    except pb.NotFound:
        return Outcome(
            "poll_error",
            code="upstream_not_found",
            message="The provider does not know this job.",
            not_found=True,
        )
    except pb.ProviderError as exc:
        return Outcome(
            "poll_error",
            code=exc.code,
            message=exc.message,
            retry_after=getattr(exc, "retry_after", None),
        )
    if status.state == pb.COMPLETED and (
        work.pending_action == "refresh" or work.status == st.PROCESSING
    ):
        return _complete(work, status, store, Outcome("completed", status=status))
    if status.state == pb.FAILED:
        return Outcome(
            "failed",
            status=status,
            code=status.error_code or "generation_failed",
            message=status.error_message or "The provider could not generate this video.",
        )
    if status.state == pb.CANCELLED:
        return Outcome(
            "failed",
            status=status,
            code="cancelled_upstream",
            message="The provider cancelled this job.",
        )
    return Outcome("progress", status=status)


def _complete(work: Work, status: pb.UpstreamStatus, store, outcome: Outcome) -> Outcome:
    outcome.kind = "completed"
    outcome.status = status
    try:
        outcome.archived = archive.archive_task(
            store,
            work.adapter,
            work.video_id,
            work.external_task_id,
            work.handles,
            work.media_type,
            work.capabilities,
            status,
            already=work.archived,
        )
    except pb.ContentExpired:
        outcome.archive_note = "The provider's copy expired before Reelay could archive it."
    except pb.TransientError as exc:
        # Keep the task active and retry the archive on the next poll.
        return Outcome(
            "poll_error",
            code="archive_retry",
            message=f"Archiving failed: {exc.message}",
            retry_after=exc.retry_after,
        )
    return outcome


def _cancel_upstream(work: Work) -> Outcome:
    if not work.external_task_id:
        return Outcome("action_done", event="Cancelled before it reached the provider.")
    throttle.acquire(work.provider_id, work.provider_max_rps)
    try:
        if pb.CAP_CANCEL in work.capabilities:
            work.adapter.cancel(work.external_task_id, work.handles)
            return Outcome("action_done", event="Cancelled at the provider too.")
        if pb.CAP_DELETE in work.capabilities:
            work.adapter.delete(work.external_task_id, work.handles)
            return Outcome("action_done", event="Deleted at the provider.")
    except pb.TransientError as exc:
        return Outcome(
            "poll_error", code=exc.code, message=exc.message, retry_after=exc.retry_after
        )
    except pb.ProviderError as exc:
        return Outcome("action_done", event=f"The provider did not stop the job ({exc.message}).")
    return Outcome(
        "action_done", event="This provider cannot stop a running job; Reelay stopped tracking it."
    )


# ---- apply: record it -------------------------------------------------------------


def _guard(work: Work, owner: str, *, active: bool = True):
    cond = [VideoTask.id == work.id, VideoTask.lease_owner == owner]
    if active:
        cond.append(VideoTask.status.in_(st.ACTIVE))
    return cond


def _event(
    task_id: int, kind: str, message: str, old: str | None = None, new: str | None = None
) -> None:
    db.session.add(
        TaskEvent(
            task_id=task_id,
            kind=kind,
            from_status=old,
            to_status=new,
            message=(message or "")[:500],
        )
    )


def _deadline_passed(work: Work, now: datetime) -> bool:
    return work.deadline_at is not None and now >= work.deadline_at


def apply(work: Work, outcome: Outcome, owner: str, commit: bool = True) -> bool:
    """Record an outcome. Returns False when the lease was lost or the task already ended
    (then nothing was written). ``commit=False`` lets the poller batch many results
    into one transaction; each row is still compare-and-set on its own."""
    now = utcnow()
    values: dict = {"lease_owner": None, "lease_until": None, "updated_at": now}
    data = dict(work.data)
    if outcome.handles is not None:
        data["handles"] = outcome.handles
    kind = outcome.kind
    status = outcome.status
    new_status = None
    active_only = True
    event = None
    stop_upstream = False  # a timed-out job still running upstream is cancelled there

    retrying_cancel = work.pending_action == "cancel" and kind == "poll_error"
    if (
        work.status in st.TERMINAL
        and kind in ("poll_error", "progress", "failed", "retry", "ambiguous")
        and not retrying_cancel
    ):
        # A follow-up (refresh) on a finished task: report it, never reopen the task.
        values["pending_action"] = None
        active_only = False
        event = (
            "info",
            f"Refresh failed: {outcome.message}"
            if kind != "progress"
            else "Checked with the provider.",
        )
        kind = "noted"
    if kind == "action_done":
        values["pending_action"] = None
        active_only = False
        event = ("info", outcome.event or "Done.")
    elif work.status in st.ACTIVE and _deadline_passed(work, now):
        if kind == "retry":
            kind, outcome.code = "failed", "submit_timeout"
            outcome.message = (
                f"Could not be submitted before the deadline. Last error: {outcome.message}"
            )
        elif kind == "ambiguous":
            kind, outcome.code = "failed", "submit_unconfirmed"
            outcome.message = (
                "The provider never confirmed the submission before the deadline; "
                "it was not resent, to avoid a duplicate job."
            )
        elif kind in ("submitted", "progress", "poll_error"):
            kind, outcome.code, outcome.message = (
                "failed",
                "timeout",
                "Timed out upstream: the job did not finish before the deadline.",
            )
            stop_upstream = True

    if kind == "submitted":
        new_status = st.PROCESSING
        values.update(
            status=st.PROCESSING,
            external_task_id=outcome.external_id,
            submitted_at=now,
            attempts=work.attempts + 1,
            error_streak=0,
            error_code=None,
            error_message=None,
            progress=(status.progress or 0) if status else 0,
            next_poll_at=now
            + timedelta(
                seconds=next_poll_delay(
                    status.progress if status else 0, status.poll_after if status else None
                )
            ),
        )
        data.pop("ambiguous_since", None)
        data.pop("reconcile_round", None)
        if status and status.expires_at:
            values["expires_at"] = status.expires_at
        event = ("submit", outcome.event or f"Accepted by the provider as {outcome.external_id}.")
    elif kind == "retry":
        delay = backoff_delay(work.error_streak + 1, outcome.retry_after)
        values.update(
            attempts=work.attempts + 1,
            error_streak=work.error_streak + 1,
            next_poll_at=now + timedelta(seconds=delay),
            error_code=outcome.code,
            error_message=outcome.message,
        )
        event = (
            "retry",
            f"Submission not accepted yet ({outcome.message}); retrying in {int(delay)}s.",
        )
    elif kind == "ambiguous":
        if work.ambiguous_since is None:
            data["ambiguous_since"] = now.isoformat()
            data["reconcile_round"] = 0
            event = (
                "retry",
                "No answer to the submission; checking with the provider before doing anything else.",
            )
        else:
            data["reconcile_round"] = work.reconcile_round + 1
        rnd = min(int(data.get("reconcile_round", 0)), len(RECONCILE_DELAYS) - 1)
        values.update(
            attempts=work.attempts + (1 if work.ambiguous_since is None else 0),
            next_poll_at=now + timedelta(seconds=outcome.retry_after or RECONCILE_DELAYS[rnd]),
            error_code="upstream_ambiguous",
            error_message="Waiting for the provider to confirm the submission.",
        )
    elif kind == "progress":
        progress = status.progress if status and status.progress is not None else None
        values.update(
            poll_count=VideoTask.poll_count + 1,
            error_streak=0,
            next_poll_at=now
            + timedelta(seconds=next_poll_delay(progress, status.poll_after if status else None)),
        )
        if progress is not None:
            values["progress"] = max(0, min(progress, 99))
        if status and status.expires_at:
            values["expires_at"] = status.expires_at
        if work.pending_action == "refresh":
            values["pending_action"] = None
            data["refreshed_at"] = now.isoformat()
            event = ("info", "Checked with the provider: still in progress.")
    elif kind == "completed":
        was_terminal = work.status in st.TERMINAL
        archived = {**work.archived, **outcome.archived}
        values.update(
            progress=100,
            archive=archived,
            archived_at=now if outcome.archived else None,
            error_streak=0,
            next_poll_at=None,
            pending_action=None,
        )
        if status and status.expires_at:
            values["expires_at"] = status.expires_at
        if outcome.external_id:
            values["external_task_id"] = outcome.external_id
            values.setdefault("submitted_at", now)
        if outcome.archive_note:
            values.update(error_code="content_expired", error_message=outcome.archive_note)
        elif outcome.archived or not was_terminal:
            values.update(error_code=None, error_message=None)
        if work.pending_action == "refresh":
            data["refreshed_at"] = now.isoformat()
        if was_terminal:
            active_only = False
            if not outcome.archived:
                values.pop("archived_at")  # nothing new archived: keep the first date
            event = (
                "archive",
                "Link refreshed" + (" and the result re-archived." if outcome.archived else "."),
            )
        else:
            new_status = st.COMPLETED
            values.update(
                status=st.COMPLETED, completed_at=now, poll_count=VideoTask.poll_count + 1
            )
            values["cost"] = _cost(work)
            event = (
                "status",
                "Completed"
                + (" and archived." if archived else ". " + (outcome.archive_note or "")),
            )
    elif kind == "poll_error":
        streak = work.error_streak + 1
        if outcome.not_found and streak >= MAX_NOT_FOUND:
            kind = "failed"
            outcome.code, outcome.message = (
                "upstream_not_found",
                "The provider no longer knows this job.",
            )
        else:
            delay = backoff_delay(streak, outcome.retry_after)
            values.update(error_streak=streak, next_poll_at=now + timedelta(seconds=delay))
            if work.pending_action:
                active_only = False
            if retrying_cancel and streak >= MAX_CANCEL_TRIES:
                values.update(pending_action=None, error_streak=0, next_poll_at=None)
                event = (
                    "info",
                    f"Gave up telling the provider to stop the job ({outcome.message}).",
                )
            elif streak == 1 or streak % 5 == 0:
                event = (
                    "retry",
                    f"Could not check the job ({outcome.message}); retrying in {int(delay)}s.",
                )

    if kind == "failed":
        new_status = st.FAILED
        values.update(
            status=st.FAILED,
            error_code=(outcome.code or "failed")[:64],
            error_message=(outcome.message or "Failed.")[:500],
            completed_at=now,
            next_poll_at=None,
            pending_action=None,
        )
        external = outcome.external_id or work.external_task_id
        if outcome.external_id:
            values["external_task_id"] = outcome.external_id  # never forget a job we own
        if stop_upstream and external:
            values.update(pending_action="cancel", next_poll_at=now)
        event = ("status", outcome.message or "Failed.")

    if data != work.data:
        values["upstream_data"] = data
    cond = _guard(work, owner, active=active_only)
    if outcome.reconciled and outcome.external_id:
        other = aliased(VideoTask)
        cond.append(
            ~exists().where(
                other.provider_id == work.provider_id,
                other.external_task_id == outcome.external_id,
                other.id != work.id,
            )
        )
    result = db.session.execute(update(VideoTask).where(*cond).values(**values))
    if result.rowcount != 1:
        return False  # the UPDATE changed nothing: lease lost or task already ended
    if event:
        kind_, message = event
        _event(work.id, kind_, message, work.status if new_status else None, new_status)
    if commit:
        db.session.commit()
    return True


_T = VideoTask.__table__
_PROGRESS_MANY = (
    update(_T)
    .where(
        _T.c.id == bindparam("b_id"),
        _T.c.lease_owner == bindparam("b_owner"),
        _T.c.status == st.PROCESSING,
    )
    .values(
        progress=func.coalesce(bindparam("b_progress", type_=Integer), _T.c.progress),
        expires_at=func.coalesce(bindparam("b_expires", type_=DateTime), _T.c.expires_at),
        next_poll_at=bindparam("b_next", type_=DateTime),
        poll_count=_T.c.poll_count + 1,
        error_streak=0,
        lease_owner=None,
        lease_until=None,
        updated_at=bindparam("b_now", type_=DateTime),
    )
)


def _plain_progress(work: Work, outcome: Outcome, now: datetime) -> bool:
    """The common case: still running, nothing else to record."""
    return (
        outcome.kind == "progress"
        and work.status == st.PROCESSING
        and not work.pending_action
        and not _deadline_passed(work, now)
    )


def apply_many(pairs: list[tuple[Work, Outcome]], owner: str) -> tuple[int, int]:
    """Apply a batch in one transaction: plain progress updates go out as a single
    executemany (the hot path of a large sweep), everything else row by row.
    Returns (applied, lost); a lost progress update is harmless (someone else owns it)."""
    now = utcnow()
    plain, other = [], []
    for work, outcome in pairs:
        (plain if _plain_progress(work, outcome, now) else other).append((work, outcome))
    applied = lost = 0
    if plain:
        params = []
        for work, outcome in plain:
            status = outcome.status
            progress = status.progress if status and status.progress is not None else None
            params.append(
                {
                    "b_id": work.id,
                    "b_owner": owner,
                    "b_progress": max(0, min(progress, 99)) if progress is not None else None,
                    "b_expires": status.expires_at if status else None,
                    "b_next": now
                    + timedelta(
                        seconds=next_poll_delay(progress, status.poll_after if status else None)
                    ),
                    "b_now": now,
                }
            )
        db.session.execute(_PROGRESS_MANY, params)
        applied += len(plain)
    for work, outcome in other:
        if apply(work, outcome, owner, commit=False):
            applied += 1
        else:
            lost += 1
    db.session.commit()
    return applied, lost


def _cost(work: Work):
    provider = db.session.get(Provider, work.provider_id) if work.provider_id else None
    if provider is None or work.job is None:
        return None
    price = float(provider.price_per_second or 0)
    if work.media_type == st.IMAGE:
        return round(price, 4)
    return round(price * (work.job.seconds or 0), 4)


def release(work_id: int, owner: str) -> None:
    """Give a lease back without changing anything (e.g. on shutdown)."""
    db.session.execute(
        update(VideoTask)
        .where(VideoTask.id == work_id, VideoTask.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
    db.session.commit()


def lease_seconds() -> int:
    return current_app.config["LEASE_SECONDS"]
