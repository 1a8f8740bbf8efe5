"""The submit protocol's ledger: an attempt is committed before its create goes out.

``begin`` writes the attempt (number, fencing token, fingerprint, when) in the same
transaction as a fenced bump of the task, so at most one create per task is ever on
the wire, and a crash mid-create leaves a ``sending`` attempt that is reconciled, never
resent. The answer (or its absence) is recorded on the attempt as soon as it is known,
whoever holds the task by then: a job's id is a fact about the upstream, and a late
answer still tells Reelay which job to stop.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..domain import machine as m
from ..domain import statuses as st
from ..domain.reconcile import AttemptKey, Echo, echo_of
from ..extensions import db
from ..models import SubmitAttempt, VideoTask
from ..models.base import utcnow
from ..providers import base as pb
from . import leases
from .leases import Lease

# Given-up attempts are searched for stray jobs this long (a job list only reaches back
# so far).
HUNT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class AttemptView:
    id: int
    number: int
    state: str
    external_id: str | None
    started_at: datetime
    answer_by: datetime
    echo: Echo

    @property
    def key(self) -> AttemptKey:
        return AttemptKey(self.id, self.echo, self.started_at, self.answer_by)


def _view(a: SubmitAttempt) -> AttemptView:
    return AttemptView(
        a.id, a.number, a.state, a.external_id, a.started_at, a.answer_by, Echo(**(a.echo or {}))
    )


def fingerprint(job: pb.Job, remix_source: str | None) -> str:
    image = hashlib.sha256(job.reference_image).hexdigest() if job.reference_image else None
    blob = [job.model, job.prompt, job.size, job.seconds, job.aspect_ratio, job.options, image]
    blob.append(remix_source)
    text = json.dumps(blob, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def latest(task_id: int) -> AttemptView | None:
    row = db.session.scalar(
        select(SubmitAttempt)
        .where(SubmitAttempt.task_id == task_id)
        .order_by(SubmitAttempt.number.desc())
        .limit(1)
    )
    return _view(row) if row is not None else None


def latest_many(task_ids: list[int]) -> dict[int, AttemptView]:
    """The latest attempt of each task (one query; only QUEUED tasks need it)."""
    if not task_ids:
        return {}
    rows = db.session.scalars(
        select(SubmitAttempt)
        .where(SubmitAttempt.task_id.in_(task_ids))
        .order_by(SubmitAttempt.task_id, SubmitAttempt.number)
    )
    return {row.task_id: _view(row) for row in rows}


def begin(
    lease: Lease,
    version: int,
    number: int,
    provider_id: int,
    job: pb.Job,
    remix_source: str | None,
    timeout: float,
) -> tuple[int, int] | None:
    """Record attempt ``number`` and commit, fenced on the lease and the task version.

    Returns (attempt id, new task version), or None when the lease was taken over, the
    task changed (e.g. it was cancelled) or another attempt got there first; then
    nothing may be sent."""
    now = utcnow()
    # The version compare-and-set means the task is exactly as the caller read it:
    # still QUEUED, nothing pending, ``number - 1`` attempts so far.
    if not leases.write(lease, version, {"attempts": number}):
        db.session.rollback()
        return None
    echo = echo_of(job.model, job.prompt, job.size, job.seconds)
    row = SubmitAttempt(
        task_id=lease.task_id,
        provider_id=provider_id,
        number=number,
        fence=lease.token,
        fingerprint=fingerprint(job, remix_source),
        echo=echo.__dict__,
        client_ref=job.client_ref,
        state=m.SENDING,
        started_at=now,
        answer_by=now + timedelta(seconds=timeout + 5),
    )
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return row.id, version + 1


def answered(attempt_id: int, external_id: str, handles: dict | None = None) -> bool:
    """The create answered with a job id. Recorded whatever the attempt was marked
    meanwhile (a late answer for an attempt given up on still names a real job)."""
    try:
        count = db.session.execute(
            update(SubmitAttempt)
            .where(SubmitAttempt.id == attempt_id, SubmitAttempt.external_id.is_(None))
            .values(
                state=m.ACCEPTED,
                external_id=external_id[:255],
                handles=handles or {},
                answered_at=utcnow(),
            )
        ).rowcount
        db.session.commit()
    except IntegrityError:  # the job is already recorded for another attempt
        db.session.rollback()
        return False
    return count == 1


def settle(attempt_id: int, state: str, code: str | None = None) -> None:
    """Refused (nothing exists upstream) or unknown (it may): only from ``sending``."""
    db.session.execute(
        update(SubmitAttempt)
        .where(SubmitAttempt.id == attempt_id, SubmitAttempt.state == m.SENDING)
        .values(state=state, error_code=(code or "")[:64] or None, answered_at=utcnow())
    )
    db.session.commit()


def mark_unknown(attempt_id: int) -> None:
    """Found ``sending`` with nobody holding the task: its holder died mid-create."""
    settle(attempt_id, m.UNKNOWN, "holder_lost")


def give_up(task_id: int) -> None:
    """The task gave up on its unresolved attempt (in the caller's transaction)."""
    db.session.execute(
        update(SubmitAttempt)
        .where(
            SubmitAttempt.task_id == task_id,
            SubmitAttempt.state.in_(m.UNRESOLVED),
            SubmitAttempt.external_id.is_(None),
        )
        .values(state=m.LOST)
    )


def adopt(attempt_id: int, external_id: str, handles: dict | None = None) -> bool:
    """Reconciliation found the attempt's job; the unique (provider, job) index makes
    sure no two attempts can ever take the same one."""
    return answered(attempt_id, external_id, handles)


def unresolved(provider_id: int, since: datetime) -> tuple[list[AttemptKey], list[AttemptKey]]:
    """Attempts of this provider that may have made a job Reelay does not know: all of
    them, and the ones still open (their task may yet adopt the job)."""
    live = or_(VideoTask.status.in_(st.ACTIVE), VideoTask.pending_action == m.CANCEL)
    rows = db.session.execute(
        select(SubmitAttempt, live.label("live"))
        .outerjoin(VideoTask, VideoTask.id == SubmitAttempt.task_id)
        .where(
            SubmitAttempt.provider_id == provider_id,
            SubmitAttempt.external_id.is_(None),
            SubmitAttempt.state.in_((m.SENDING, m.UNKNOWN, m.LOST)),
            SubmitAttempt.answer_by >= since,
        )
    ).all()
    every = [_view(a).key for a, _ in rows]
    open_ = [_view(a).key for a, is_live in rows if is_live and a.state in m.UNRESOLVED]
    return every, open_


def known(provider_id: int, ids: list[str]) -> set[str]:
    """Which of these upstream ids Reelay already knows (from an attempt or a task)."""
    if not ids:
        return set()
    from_attempts = db.session.scalars(
        select(SubmitAttempt.external_id).where(
            SubmitAttempt.provider_id == provider_id, SubmitAttempt.external_id.in_(ids)
        )
    )
    from_tasks = db.session.scalars(
        select(VideoTask.external_task_id).where(
            VideoTask.provider_id == provider_id, VideoTask.external_task_id.in_(ids)
        )
    )
    return set(from_attempts) | set(from_tasks)


def ledger_for_deleted(task: VideoTask) -> None:
    """Before a task row goes: a job it tracks that no attempt records (a registered
    one) gets a ledger row, so the sweep can still stop it upstream."""
    if not task.external_task_id or task.provider_id is None:
        return
    if db.session.scalar(
        select(SubmitAttempt.id).where(
            SubmitAttempt.provider_id == task.provider_id,
            SubmitAttempt.external_id == task.external_task_id,
        )
    ):
        return
    now = utcnow()
    db.session.add(
        SubmitAttempt(
            task_id=None,
            provider_id=task.provider_id,
            number=0,
            fingerprint="registered",
            echo={},
            state=m.ACCEPTED,
            started_at=now,
            answer_by=now,
            answered_at=now,
            external_id=task.external_task_id,
        )
    )


def orphan_condition(now: datetime):
    """An attempt whose job nobody tracks or will track: its task is gone, or finished
    with no follow-up pending and does not track this job."""
    task = VideoTask
    settled_task = select(task.id).where(
        task.id == SubmitAttempt.task_id,
        task.status.in_(st.TERMINAL),
        task.pending_action.is_(None),
        or_(task.lease_until.is_(None), task.lease_until < now),
        or_(task.external_task_id.is_(None), task.external_task_id != SubmitAttempt.external_id),
    )
    return (
        SubmitAttempt.cleanup.is_(None),
        or_(SubmitAttempt.cleanup_after.is_(None), SubmitAttempt.cleanup_after < now),
        or_(SubmitAttempt.task_id.is_(None), settled_task.exists()),
    )
