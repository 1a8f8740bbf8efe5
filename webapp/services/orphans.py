"""Jobs Reelay made that nobody tracks any more are stopped upstream, never adopted.

A job becomes an orphan when its task was deleted (or cancelled, or gave up) before
the create's answer arrived, or when a given-up create turns out to have made a job
after all. The ledger (``submit_attempts``) still knows it; the sweep cancels or
deletes it at the provider and records that. A given-up create whose job id never came
back is hunted in the provider's job list: a listed job that only given-up attempts
can explain is stopped; one an open attempt could still claim is left alone.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from ..domain import machine as m
from ..domain import reconcile
from ..domain.machine import Kind
from ..domain.polling import backoff_delay
from ..domain.reconcile import CLOCK_SKEW, JobKey
from ..extensions import db
from ..models import Provider, SubmitAttempt
from ..models.base import utcnow
from ..providers import base as pb
from . import attempts, catalog, leases, throttle

log = logging.getLogger(__name__)

# A stray job is worth stopping while it may still run (and bill): its stop is retried
# for this long after its create, at most 4 retry steps apart (20 s by default), so a
# provider's failing spell does not push the next try minutes away, nor end the tries.
STOP_FOR = attempts.HUNT_WINDOW
SWEEP_LIMIT = 20


def _claim(condition, limit: int) -> list[SubmitAttempt]:
    """Take a short lease on orphan rows so two sweeps never stop the same job at once."""
    now = utcnow()
    ids = list(
        db.session.scalars(
            select(SubmitAttempt.id)
            .where(*attempts.orphan_condition(now), *condition)
            .order_by(SubmitAttempt.id)
            .limit(limit)
        )
    )
    taken = []
    until = now + timedelta(seconds=leases.seconds())
    for attempt_id in ids:
        count = db.session.execute(
            update(SubmitAttempt)
            .where(SubmitAttempt.id == attempt_id, *attempts.orphan_condition(now))
            .values(cleanup_after=until)
        ).rowcount
        if count:
            taken.append(attempt_id)
    db.session.commit()
    if not taken:
        return []
    rows = list(db.session.scalars(select(SubmitAttempt).where(SubmitAttempt.id.in_(taken))))
    for row in rows:
        db.session.expunge(row)
    db.session.commit()
    return rows


def _with_job():
    return (SubmitAttempt.external_id.is_not(None),)


def _hunted(now):
    return (
        SubmitAttempt.external_id.is_(None),
        or_(
            # Its request is over and no answer came. Its task is finished or gone and
            # nobody holds it (the orphan condition), so no task can take the job any
            # more; a stale holder's late answer only names the job for us to stop. So
            # hunt now rather than after the create's timeout, while the job runs up
            # the bill.
            SubmitAttempt.state.in_((m.UNKNOWN, m.LOST)),
            # Maybe still on the wire: a live holder may yet record the answer.
            and_(SubmitAttempt.state == m.SENDING, SubmitAttempt.answer_by < now),
        ),
        SubmitAttempt.started_at > now - attempts.HUNT_WINDOW,
    )


def sweep(limit: int = SWEEP_LIMIT) -> int:
    """Stop what can be stopped now; returns how many rows were settled or retried."""
    done = 0
    for row in _claim(_with_job(), limit):
        _stop(row)
        done += 1
    done += _hunt(_claim(_hunted(utcnow()), limit))
    _give_up_old()
    return done


def clean_now(attempt_ids: list[int]) -> None:
    """Stop these attempts' jobs now if they are orphans (after a delete, or when a
    create answered for a task that is gone)."""
    for row in _claim((SubmitAttempt.id.in_(attempt_ids), *_with_job()), len(attempt_ids)):
        _stop(row)


def _adapter(provider_id: int | None):
    provider = db.session.get(Provider, provider_id) if provider_id else None
    db.session.commit()
    if provider is None:
        return None, frozenset(), 10.0
    return (
        catalog.adapter_for(provider),
        catalog.capabilities(provider),
        float(provider.max_rps or 10),
    )


def _stop(row: SubmitAttempt) -> None:
    from .steps import stop_job

    adapter, caps, rps = _adapter(row.provider_id)
    if adapter is None:
        return _settle(row.id, "failed", "the provider was removed")
    throttle.acquire(row.provider_id, rps)
    outcome = stop_job(
        adapter, caps, row.external_id, row.handles or {}, delete=row.task_id is None
    )
    if outcome.kind is Kind.STOPPED:
        state = "deleted" if outcome.note and "Deleted" in outcome.note else "stopped"
        return _settle(row.id, state, outcome.note)
    if outcome.kind is Kind.STOP_ERROR and utcnow() - row.started_at < STOP_FOR:
        return _retry(row, outcome)
    _settle(row.id, "failed", outcome.note or outcome.message)


def _settle(attempt_id: int, state: str, note: str | None) -> None:
    db.session.execute(
        update(SubmitAttempt)
        .where(SubmitAttempt.id == attempt_id)
        .values(cleanup=state, cleanup_note=(note or "")[:300] or None, cleanup_after=None)
    )
    db.session.commit()
    log.info("orphan job of attempt %s: %s", attempt_id, state)


def _retry(row: SubmitAttempt, outcome) -> None:
    base = current_app.config["RETRY_BASE_SECONDS"]
    delay = backoff_delay(row.cleanup_tries + 1, outcome.retry_after, base=base, cap=4 * base)
    db.session.execute(
        update(SubmitAttempt)
        .where(SubmitAttempt.id == row.id)
        .values(
            cleanup_tries=row.cleanup_tries + 1,
            cleanup_after=utcnow() + timedelta(seconds=delay),
            cleanup_note=(outcome.message or "")[:300] or None,
        )
    )
    db.session.commit()


def _hunt(rows: list[SubmitAttempt]) -> int:
    by_provider: dict[int, list[SubmitAttempt]] = {}
    for row in rows:
        by_provider.setdefault(row.provider_id, []).append(row)
    found = 0
    for provider_id, hunted in by_provider.items():
        found += _hunt_provider(provider_id, hunted)
    return found


def _hunt_provider(provider_id: int | None, hunted: list[SubmitAttempt]) -> int:
    adapter, caps, rps = _adapter(provider_id)
    if adapter is None or pb.CAP_LIST not in caps:
        for row in hunted:
            _settle(row.id, "gave_up", "the provider cannot list its jobs")
        return len(hunted)
    since = min(r.started_at for r in hunted) - CLOCK_SKEW
    throttle.acquire(provider_id, rps)
    try:
        listed = adapter.list_jobs(since)
    except pb.ProviderError:
        return 0  # looked for again at the next sweep
    jobs = [JobKey(j.external_id, j.created_at, j.echo) for j in listed]
    known = attempts.known(provider_id, [j.external_id for j in jobs])
    _, open_ = attempts.unresolved(provider_id, since - CLOCK_SKEW)
    db.session.commit()
    keys = [attempts._view(r).key for r in hunted]
    stopped = 0
    for key, job in reconcile.strays(keys, jobs, open_, known):
        listed_job = next(j for j in listed if j.external_id == job.external_id)
        if attempts.answered(key.id, job.external_id, listed_job.handles):
            row = db.session.get(SubmitAttempt, key.id)
            db.session.expunge(row)
            db.session.commit()
            _stop(row)
            stopped += 1
    return stopped


def _give_up_old() -> None:
    """Given-up creates older than the hunt window are no longer looked for."""
    now = utcnow()
    db.session.execute(
        update(SubmitAttempt)
        .where(
            *attempts.orphan_condition(now),
            SubmitAttempt.external_id.is_(None),
            SubmitAttempt.state.in_((m.SENDING, m.UNKNOWN, m.LOST)),
            SubmitAttempt.started_at <= now - attempts.HUNT_WINDOW,
        )
        .values(cleanup="gave_up", cleanup_note="never found at the provider")
    )
    db.session.commit()
