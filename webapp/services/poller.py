"""The poller: claim due tasks with a lease, look at the upstream concurrently, record
the results in short transactions.

Safe to run in any number of processes and hosts at once: the claim is
``FOR UPDATE SKIP LOCKED`` on PostgreSQL and an atomic conditional UPDATE on SQLite,
and every result is written compare-and-set on the lease (see ``lifecycle.apply``).
All state lives in the database, so a restart resumes every in-flight task.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from ..domain import statuses as st
from ..extensions import db
from ..models import VideoTask
from ..models.base import utcnow
from . import archive, lifecycle

log = logging.getLogger(__name__)

APPLY_BATCH = 100  # results written per transaction
WORKER_ID = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class SweepResult:
    claimed: int = 0
    applied: int = 0
    lost: int = 0


def _due_condition(now):
    return (
        or_(VideoTask.status.in_(st.ACTIVE), VideoTask.pending_action.is_not(None)),
        VideoTask.next_poll_at <= now,
        or_(VideoTask.lease_until.is_(None), VideoTask.lease_until < now),
    )


def claim(owner: str, limit: int) -> list[int]:
    """Lease up to ``limit`` due tasks to ``owner``; returns their ids."""
    now = utcnow()
    due = (
        select(VideoTask.id)
        .where(*_due_condition(now))
        .order_by(VideoTask.next_poll_at)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(VideoTask)
        .where(VideoTask.id.in_(due.scalar_subquery()), *_due_condition(now))
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lifecycle.lease_seconds()))
        .returning(VideoTask.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(db.session.scalars(stmt))
    db.session.commit()
    return ids


def run_once(
    app: Flask | None = None, owner: str | None = None, limit: int | None = None
) -> SweepResult:
    """One sweep: claim a batch, perform each step in the pool, apply the results."""
    app = app or current_app._get_current_object()
    owner = owner or WORKER_ID
    with app.app_context():
        cfg = app.config
        ids = claim(owner, limit or cfg["POLL_BATCH"])
        result = SweepResult(claimed=len(ids))
        if not ids:
            return result
        tasks = db.session.scalars(select(VideoTask).where(VideoTask.id.in_(ids))).all()
        works = [lifecycle.snapshot(t) for t in tasks]
        db.session.commit()  # end the read transaction before the slow part
        store = archive.store()
        pool = _pool(cfg["POLL_WORKERS"])
        futures = [pool.submit(_perform_in_context, app, w, store) for w in works]
        batch: list = []
        by_future = dict(zip(futures, works, strict=True))
        try:
            for fut in as_completed(futures):
                batch.append((by_future[fut], fut.result()))
                if len(batch) >= APPLY_BATCH:
                    _flush(batch, owner, result)
            _flush(batch, owner, result)
        except Exception:
            # Anything not committed stays leased and is simply polled again later.
            db.session.rollback()
            raise
        return result


def _flush(batch: list, owner: str, result: SweepResult) -> None:
    if batch:
        applied, lost = lifecycle.apply_many(batch, owner)
        result.applied += applied
        result.lost += lost
        batch.clear()


def _perform_in_context(app: Flask, work, store):
    with app.app_context():
        return lifecycle.perform(work, store)


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool(size: int) -> ThreadPoolExecutor:
    if size not in _pools:
        _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="reelay-poll")
    return _pools[size]


def run_until_idle(app: Flask, max_sweeps: int = 1000, owner: str | None = None) -> int:
    """Sweep until nothing is due right now (tests and the CLI's --once)."""
    total = 0
    for _ in range(max_sweeps):
        res = run_once(app, owner=owner)
        total += res.claimed
        if res.claimed == 0:
            break
    return total
