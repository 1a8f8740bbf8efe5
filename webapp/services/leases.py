"""Leases on tasks: claim, renew, fenced write and release, all here and nowhere else.

A lease says "this process is working on this task until ``lease_until``". Every claim
takes the next ``lease_token`` (the fencing token), and every result is written with
``WHERE lease_token = <mine> AND version = <what I read>``: a holder whose lease ran out
and was taken over can no longer write anything, and a decision made on facts a user
action has since changed (a cancel, a delete) is made again on the new facts.

Claims are ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and an atomic conditional UPDATE on
SQLite. An upstream call's timeout always ends before the lease does (``timeout``), and
long operations renew it as they go (``keep``).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from ..domain import statuses as st
from ..extensions import db
from ..models import VideoTask
from ..models.base import utcnow

WORKER_ID = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
MIN_CALL_SECONDS = 1.0  # below this much lease left, do not start an upstream call


@dataclass
class Lease:
    task_id: int
    token: int
    owner: str
    until: datetime

    def left(self, now: datetime | None = None) -> float:
        return (self.until - (now or utcnow())).total_seconds()


def seconds() -> float:
    return float(current_app.config["LEASE_SECONDS"])


def margin() -> float:
    """Time kept back for writing the result after an upstream call returns."""
    return min(5.0, seconds() * 0.25)


def _due(now: datetime):
    return (
        or_(VideoTask.status.in_(st.ACTIVE), VideoTask.pending_action.is_not(None)),
        VideoTask.next_poll_at <= now,
        or_(VideoTask.lease_until.is_(None), VideoTask.lease_until < now),
    )


def _take(now: datetime, owner: str) -> dict:
    return {
        "lease_owner": owner[:64],
        "lease_until": now + timedelta(seconds=seconds()),
        "lease_token": VideoTask.lease_token + 1,
    }


def claim_due(owner: str, limit: int) -> list[Lease]:
    """Lease up to ``limit`` due tasks, oldest first."""
    now = utcnow()
    due = select(VideoTask.id).where(*_due(now)).order_by(VideoTask.next_poll_at).limit(limit)
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(VideoTask)
        .where(VideoTask.id.in_(due.scalar_subquery()), *_due(now))
        .values(**_take(now, owner))
        .returning(VideoTask.id, VideoTask.lease_token, VideoTask.lease_until)
        .execution_options(synchronize_session=False)
    )
    rows = db.session.execute(stmt).all()
    db.session.commit()
    return [Lease(r.id, r.lease_token, owner, r.lease_until) for r in rows]


def claim(task_id: int, owner: str | None = None) -> Lease | None:
    """Lease one task now (inline steps), whether or not it is due; None while another
    process holds it."""
    owner = owner or "inline:" + uuid.uuid4().hex[:12]
    now = utcnow()
    row = db.session.execute(
        update(VideoTask)
        .where(
            VideoTask.id == task_id,
            or_(VideoTask.lease_until.is_(None), VideoTask.lease_until < now),
        )
        .values(**_take(now, owner))
        .returning(VideoTask.lease_token, VideoTask.lease_until)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.commit()
    return Lease(task_id, row.lease_token, owner, row.lease_until) if row else None


def initial(now: datetime) -> dict:
    """Columns for a new row that its creator holds leased (token 1) from the start."""
    return {
        "lease_owner": "inline:" + uuid.uuid4().hex[:12],
        "lease_until": now + timedelta(seconds=seconds()),
        "lease_token": 1,
    }


def of_new(task: VideoTask) -> Lease:
    return Lease(task.id, task.lease_token, task.lease_owner, task.lease_until)


def renew(lease: Lease) -> bool:
    """Extend the lease; False when it was taken over (then stop and write nothing)."""
    until = utcnow() + timedelta(seconds=seconds())
    count = db.session.execute(
        update(VideoTask)
        .where(VideoTask.id == lease.task_id, VideoTask.lease_token == lease.token)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if count:
        lease.until = until
    return bool(count)


def keep(lease: Lease, need: float) -> bool:
    """Make sure at least ``need`` seconds (plus the margin) are left, renewing if not."""
    if lease.left() >= need + margin():
        return True
    return renew(lease)


def timeout(lease: Lease, configured: float, deadline: datetime | None = None) -> float:
    """The longest an upstream call may take now: shorter than the lease time left (so
    the answer is written before anyone else can take the task) and than the deadline."""
    now = utcnow()
    limit = min(configured, lease.left(now) - margin())
    if deadline is not None:
        limit = min(limit, max((deadline - now).total_seconds(), MIN_CALL_SECONDS))
    return limit


def write(lease: Lease, version: int, values: dict, *, release: bool = False) -> bool:
    """Compare-and-set one task's columns under the lease. Does not commit."""
    values = {**values, "version": version + 1, "updated_at": utcnow()}
    if release:
        values.update(lease_owner=None, lease_until=None)
    count = db.session.execute(
        update(VideoTask)
        .where(
            VideoTask.id == lease.task_id,
            VideoTask.lease_token == lease.token,
            VideoTask.version == version,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return count == 1


def release(lease: Lease) -> None:
    """Give the task back without changing anything else."""
    db.session.execute(
        update(VideoTask)
        .where(VideoTask.id == lease.task_id, VideoTask.lease_token == lease.token)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def holds(lease: Lease) -> bool:
    """Whether the lease is still this holder's (a read; the write is what counts)."""
    token = db.session.scalar(select(VideoTask.lease_token).where(VideoTask.id == lease.task_id))
    db.session.commit()
    return token == lease.token
