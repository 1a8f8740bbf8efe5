"""Provider health, shared by every process through the database.

Every create and status call is timed and classified (``observe``). Failed creates feed
the circuit breaker in ``provider_health`` at once (rare, so one small write each);
successes only write when they change something (the end of a failure streak, a probe
that closes the circuit), so the poller's hundreds of status reads a second cost no
writes. Latencies and counts are kept in memory per five-minute slot and flushed to
this process's own ``provider_call_stats`` rows every few seconds. Routing asks
``available_many``; the admin page asks ``report``.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..domain import health as h
from ..extensions import db
from ..models import ProviderCallStat, ProviderHealth
from ..models.base import utcnow
from ..providers import base as pb
from . import leases, locks
from .remembered import Remembered

log = logging.getLogger(__name__)

SUBMIT, STATUS = "submit", "status"
SLOT = timedelta(minutes=5)
FLUSH_SECONDS = 5.0
VIEW_SECONDS = 2.0  # how stale this process's idea of a breaker may be
KEEP = timedelta(days=2)

# Failures that are the provider's trouble (a 4xx about the request is not).
FAILURES = (pb.TransientError, pb.AuthError, pb.AmbiguousError)

_lock = threading.Lock()
_slots: dict[tuple[int, str, datetime], list] = {}  # -> [calls, failures, histogram]
_flushed = 0.0
_pruned = 0.0
_views = Remembered()  # provider id -> this process's recent idea of its breaker
_BREAKER = (
    ProviderHealth.state,
    ProviderHealth.failures,
    ProviderHealth.opened_until,
    ProviderHealth.cooldown,
    ProviderHealth.probe_until,
)


def _slot(now: datetime) -> datetime:
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)


@contextmanager
def observe(provider_id: int, op: str, probe: bool = False):
    """Time one upstream call and record how it went (the exception, if any, goes on)."""
    started = time.monotonic()
    try:
        yield
    except FAILURES as exc:
        record(provider_id, op, (time.monotonic() - started) * 1000, exc.message, probe)
        raise
    except pb.ProviderError:
        record(provider_id, op, (time.monotonic() - started) * 1000, None, probe)
        raise
    record(provider_id, op, (time.monotonic() - started) * 1000, None, probe)


def record(provider_id: int, op: str, ms: float, error: str | None, probe: bool = False) -> None:
    now = utcnow()
    with _lock:
        entry = _slots.setdefault((provider_id, op, _slot(now)), [0, 0, h.empty()])
        entry[0] += 1
        entry[1] += 1 if error else 0
        entry[2][h.bucket(ms)] += 1
    if op != SUBMIT:
        pass  # status reads feed the statistics only: the circuit guards creates
    elif error:
        threshold = current_app.config.get("CIRCUIT_THRESHOLD", h.THRESHOLD)
        _change(provider_id, lambda b: h.failed(b, now, threshold), error)
    else:
        view = breaker(provider_id)
        if probe or (view.state == h.CLOSED and view.failures):
            _change(provider_id, lambda b: h.succeeded(b, probe))
    try:
        flush()  # at most every FLUSH_SECONDS, by whichever thread gets here
    except Exception:  # noqa: BLE001 - statistics must never break a step
        log.exception("could not write provider call statistics")


# ---- the breaker ------------------------------------------------------------------------


def _breaker_of(row: ProviderHealth | None) -> h.Breaker:
    if row is None:
        return h.Breaker()
    return h.Breaker(row.state, row.failures, row.opened_until, row.cooldown, row.probe_until)


def breaker(provider_id: int) -> h.Breaker:
    """This process's recent view of a breaker (read again after VIEW_SECONDS)."""

    def load() -> h.Breaker:
        with db.engine.connect() as conn:
            row = conn.execute(
                select(*_BREAKER).where(ProviderHealth.provider_id == provider_id)
            ).first()
        return h.Breaker(*row) if row else h.Breaker()

    return _views.get(provider_id, VIEW_SECONDS, load)


def _change(provider_id: int, step, error: str | None = None) -> h.Breaker:
    """Read-decide-write one breaker under its row lock, in a transaction of its own
    (never the caller's: a step's session has nothing open while it calls upstream)."""
    now = utcnow()
    with db.engine.begin() as conn:
        _ensure(conn, provider_id)
        locks.for_update(conn, ProviderHealth, ProviderHealth.provider_id, provider_id)
        row = conn.execute(
            select(*_BREAKER).where(ProviderHealth.provider_id == provider_id)
        ).first()
        before = h.Breaker(*row)
        after = step(before)
        values = {
            "state": after.state,
            "failures": after.failures,
            "opened_until": after.opened_until,
            "cooldown": after.cooldown,
            "probe_until": after.probe_until,
        }
        if after.state != before.state:
            values["changed_at"] = now
        if error:
            values.update(last_error=error[:300], last_error_at=now)
        if after != before or error:
            conn.execute(
                update(ProviderHealth)
                .where(ProviderHealth.provider_id == provider_id)
                .values(**values)
            )
    _views.put(provider_id, after)
    return after


def _ensure(conn, provider_id: int) -> None:
    ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(ProviderHealth)
    conn.execute(
        ins.values(
            provider_id=provider_id, state=h.CLOSED, failures=0, cooldown=0.0
        ).on_conflict_do_nothing(index_elements=["provider_id"])
    )


def available_many(provider_ids: list[int]) -> dict[int, bool]:
    """For ranking a route: closed, or open long enough to be probed. One query on the
    caller's session (a create already holds a connection: never ask for a second)."""

    def load(stale: list[int]) -> dict[int, h.Breaker]:
        rows = db.session.execute(
            select(ProviderHealth.provider_id, *_BREAKER).where(
                ProviderHealth.provider_id.in_(stale)
            )
        ).all()
        return {row[0]: h.Breaker(*row[1:]) for row in rows}

    now = utcnow()
    views = _views.get_many(provider_ids, VIEW_SECONDS, load, missing=h.Breaker)
    return {pid: h.admits(views[pid], now) != "no" for pid in provider_ids}


def admit(provider_id: int) -> tuple[bool, bool]:
    """May a create go to this provider now? (allowed, as the probe). The probe is
    claimed under the row lock, so one process at a time sends it."""
    now = utcnow()
    verdict = h.admits(breaker(provider_id), now)
    if verdict == "yes":
        return True, False
    if verdict == "no":
        return False, False
    claimed = {}

    def claim(b: h.Breaker) -> h.Breaker:
        if h.admits(b, now) != "probe":
            return b
        claimed["yes"] = True
        return h.probing(b, now)

    _change(provider_id, claim)
    return bool(claimed), bool(claimed)


def open_reason(provider_id: int) -> str:
    b = breaker(provider_id)
    when = b.probe_until if b.state == h.HALF_OPEN else b.opened_until
    left = max(0, int(((when or utcnow()) - utcnow()).total_seconds()))
    return (
        f"its circuit is open after {b.failures} failures in a row (next try in {left} s)"
        if b.state == h.OPEN
        else "a probe request is checking whether it is back"
    )


def reset(provider_id: int) -> None:
    """An admin closes the circuit by hand."""
    _change(provider_id, lambda b: h.Breaker())


# ---- statistics --------------------------------------------------------------------------


def flush(force: bool = False) -> None:
    """Write this process's counts (each process owns its rows: absolute values, no
    read-modify-write), then forget slots that can no longer change."""
    global _flushed, _pruned
    if not force and time.monotonic() - _flushed < FLUSH_SECONDS:
        return
    _flushed = time.monotonic()
    now = utcnow()
    with _lock:
        rows = [
            {
                "provider_id": pid,
                "op": op,
                "minute": slot,
                "worker": leases.WORKER_ID,
                "calls": v[0],
                "failures": v[1],
                "histogram": list(v[2]),
            }
            for (pid, op, slot), v in _slots.items()
        ]
        for key in [k for k in _slots if k[2] < _slot(now) - SLOT]:
            del _slots[key]
    if not rows and time.monotonic() - _pruned < 3600:
        return
    with db.engine.begin() as conn:
        if rows:
            ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(
                ProviderCallStat
            )
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["provider_id", "op", "minute", "worker"],
                    set_={
                        "calls": ins.excluded.calls,
                        "failures": ins.excluded.failures,
                        "histogram": ins.excluded.histogram,
                    },
                ),
                rows,
            )
        if time.monotonic() - _pruned >= 3600:
            _pruned = time.monotonic()
            conn.execute(delete(ProviderCallStat).where(ProviderCallStat.minute < now - KEEP))


def forget() -> None:
    """Drop this process's unflushed counts and cached views (tests)."""
    global _flushed
    with _lock:
        _slots.clear()
    _views.forget()
    _flushed = 0.0


@dataclass(frozen=True)
class Window:
    calls: int
    failures: int
    p50: float | None
    p95: float | None

    @property
    def success_rate(self) -> float | None:
        return (self.calls - self.failures) / self.calls if self.calls else None


@dataclass(frozen=True)
class Health:
    breaker: h.Breaker
    last_error: str | None
    last_error_at: datetime | None
    windows: dict  # (op, "hour" | "day") -> Window

    @property
    def state(self) -> str:
        return self.breaker.state


def report(provider_ids: list[int]) -> dict[int, Health]:
    """Circuit, last error and the last hour's and day's calls, per provider."""
    flush(force=True)
    now = utcnow()
    hour, day = _slot(now - timedelta(hours=1)), _slot(now - timedelta(days=1))
    stats = db.session.scalars(
        select(ProviderCallStat).where(
            ProviderCallStat.provider_id.in_(provider_ids), ProviderCallStat.minute >= day
        )
    ).all()
    rows = {
        r.provider_id: r
        for r in db.session.scalars(
            select(ProviderHealth).where(ProviderHealth.provider_id.in_(provider_ids))
        )
    }
    out = {}
    for pid in provider_ids:
        windows = {}
        for op in (SUBMIT, STATUS):
            for name, since in (("hour", hour), ("day", day)):
                mine = [
                    r for r in stats if r.provider_id == pid and r.op == op and r.minute >= since
                ]
                hist = h.empty()
                for r in mine:
                    hist = h.merge(hist, r.histogram)
                windows[(op, name)] = Window(
                    sum(r.calls for r in mine),
                    sum(r.failures for r in mine),
                    h.percentile(hist, 0.5),
                    h.percentile(hist, 0.95),
                )
        row = rows.get(pid)
        out[pid] = Health(
            _breaker_of(row),
            row.last_error if row else None,
            row.last_error_at if row else None,
            windows,
        )
    return out
