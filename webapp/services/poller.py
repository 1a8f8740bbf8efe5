"""The poller: lease due tasks, take each one step further in a thread pool, and stop
jobs nobody tracks any more.

Safe in any number of processes and hosts at once: leases are claimed with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL) or an atomic conditional UPDATE (SQLite), and
every result is written fenced on the lease (``services/leases.py``) by the thread
that got it, as soon as it arrives. All state lives in the database, so a restart (or
a kill -9) resumes every in-flight task; a create that was on the wire is reconciled,
never resent.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from flask import Flask, current_app

from ..extensions import db
from . import archive, leases, lifecycle, orphans

log = logging.getLogger(__name__)

WORKER_ID = leases.WORKER_ID


@dataclass
class SweepResult:
    claimed: int = 0
    orphans: int = 0
    full: bool = False  # claimed as many as allowed: more may be due right now


def run_once(
    app: Flask | None = None, owner: str | None = None, limit: int | None = None
) -> SweepResult:
    """One sweep: claim a batch, run each task's step in the pool, then the orphans."""
    app = app or current_app._get_current_object()
    owner = owner or WORKER_ID
    with app.app_context():
        cfg = app.config
        # Never lease more than the pool can start soon: a lease ticks while it waits.
        cap = min(limit or cfg["POLL_BATCH"], cfg["POLL_WORKERS"] * 4)
        held = leases.claim_due(owner, cap)
        result = SweepResult(claimed=len(held), full=len(held) >= cap)
        if held:
            snaps = lifecycle.load_many(held)
            store = archive.store()
            pool = _pool(cfg["POLL_WORKERS"])
            futures = [
                pool.submit(_step, app, lease, snaps.get(lease.task_id), store) for lease in held
            ]
            wait(futures)
        try:
            result.orphans = orphans.sweep()
        except Exception:  # noqa: BLE001 - retried at the next sweep
            db.session.rollback()
            log.exception("orphan sweep failed")
        return result


def _step(app: Flask, lease, snap, store) -> None:
    with app.app_context():
        if snap is None:
            leases.release(lease)  # taken over between claim and load
            return
        lifecycle.run(lease, snap, store)


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
