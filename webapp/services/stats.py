"""Statistics for one user or everyone: counts, success rate, generation time
percentiles, per model / provider / day, seconds generated and cost.

A few grouped queries over an indexed date range; never a row-by-row scan in Python.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select

from ..domain import statuses as st
from ..domain.spreadsheet import cell
from ..extensions import db
from ..models import ApiToken, Provider, User, VideoTask
from ..models.base import utcnow

DEFAULT_DAYS = 30


@dataclass
class Report:
    date_from: date
    date_to: date
    by_status: dict = field(default_factory=dict)
    total: int = 0
    success_rate: float | None = None
    p50: float | None = None
    p95: float | None = None
    seconds_generated: int = 0
    cost: float = 0.0
    per_model: list = field(default_factory=list)
    per_provider: list = field(default_factory=list)
    per_day: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)  # field -> message, for the date inputs
    per_user: list = field(default_factory=list)  # admin: spend per user
    per_token: list = field(default_factory=list)  # admin: spend per API token


EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


def parse_range(date_from: str | None, date_to: str | None) -> tuple[date, date, dict]:
    """The date range asked for, with field errors for dates that cannot be read or lie
    outside 2000–2999 (those fall back to the default range)."""
    today = utcnow().date()
    errors: dict = {}

    def parse(value, default, name):
        if not value:
            return default
        try:
            day = date.fromisoformat(value[:10]) if len(value) <= 10 else None
        except ValueError:
            day = None
        if day is None or not EARLIEST <= day <= LATEST:
            errors[name] = "Choose a date between 2000-01-01 and 2999-12-31."
            return default
        return day

    end = parse(date_to, today, "to")
    start = parse(date_from, end - timedelta(days=DEFAULT_DAYS - 1), "from")
    if start > end:
        start, end = end, start
    if (end - start).days > 366:
        start = end - timedelta(days=366)
    return max(start, EARLIEST), end, errors


def _duration_expr():
    if db.engine.dialect.name == "sqlite":
        return (
            func.julianday(VideoTask.completed_at) - func.julianday(VideoTask.created_at)
        ) * 86400.0
    return func.extract("epoch", VideoTask.completed_at - VideoTask.created_at)


def _percentiles(where) -> tuple[float | None, float | None]:
    dur = _duration_expr()
    done = and_(*where, VideoTask.status == st.COMPLETED, VideoTask.completed_at.is_not(None))
    if db.engine.dialect.name == "postgresql":
        row = db.session.execute(
            select(
                func.percentile_cont(0.5).within_group(dur),
                func.percentile_cont(0.95).within_group(dur),
            ).where(done)
        ).one()
        return (
            float(row[0]) if row[0] is not None else None,
            float(row[1]) if row[1] is not None else None,
        )
    n = db.session.scalar(select(func.count()).where(done)) or 0
    if not n:
        return None, None

    def nth(q):
        k = min(n - 1, max(0, round(q * (n - 1))))
        return db.session.scalar(select(dur).where(done).order_by(dur).offset(k).limit(1))

    return nth(0.5), nth(0.95)


def _window(start: date, end: date) -> list:
    return [
        VideoTask.created_at >= datetime.combine(start, datetime.min.time()),
        VideoTask.created_at < datetime.combine(end + timedelta(days=1), datetime.min.time()),
    ]


def spend(rep: Report, user_id: int | None = None) -> Report:
    """Spend per user and per API token in the report's range (what each task cost:
    the provider's figure, else price × seconds; nothing for tasks that cost nothing)."""
    where = _window(rep.date_from, rep.date_to)
    if user_id is not None:
        where.append(VideoTask.user_id == user_id)
    t = VideoTask
    secs = case((t.status == st.COMPLETED, func.coalesce(t.seconds, 0)), else_=0)
    sums = (func.count(), func.sum(secs), func.sum(func.coalesce(t.cost, 0)))
    users = db.session.execute(
        select(User.email, *sums)
        .join(User, User.id == t.user_id)
        .where(*where)
        .group_by(User.email)
    ).all()
    tokens = db.session.execute(
        select(ApiToken.name, ApiToken.hint, User.email, *sums)
        .join(ApiToken, ApiToken.id == t.api_token_id)
        .join(User, User.id == ApiToken.user_id)
        .where(*where)
        .group_by(ApiToken.id, ApiToken.name, ApiToken.hint, User.email)
    ).all()

    def row(name, n, s_, c, **more):
        return {"name": name, "tasks": n, "seconds": int(s_ or 0), "cost": float(c or 0), **more}

    rep.per_user = sorted((row(e, n, s_, c) for e, n, s_, c in users), key=lambda r: -r["cost"])
    rep.per_token = sorted(
        (row(f"{name} ({hint}…)", n, s_, c, owner=e) for name, hint, e, n, s_, c in tokens),
        key=lambda r: -r["cost"],
    )
    return rep


def days_csv(rep: Report) -> str:
    """The per-day series as CSV (what the charts show)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["date", "tasks", "completed", "failed", "cost"])
    for d in rep.per_day:
        w.writerow([d["date"], d["total"], d["completed"], d["failed"], f"{d['cost']:.4f}"])
    return out.getvalue()


def spend_csv(rep: Report) -> str:
    """The spend breakdown as CSV (one line per user, then per token)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["kind", "name", "owner", "tasks", "seconds", "cost", "from", "to"])
    for kind, rows in (("user", rep.per_user), ("token", rep.per_token)):
        for r in rows:
            w.writerow(
                [
                    kind,
                    cell(r["name"]),
                    cell(r.get("owner", r["name"])),
                    r["tasks"],
                    r["seconds"],
                    f"{r['cost']:.4f}",
                    rep.date_from,
                    rep.date_to,
                ]
            )
    return out.getvalue()


def report(
    user_id: int | None = None, date_from: str | None = None, date_to: str | None = None
) -> Report:
    start, end, errors = parse_range(date_from, date_to)
    where = [
        VideoTask.created_at >= datetime.combine(start, datetime.min.time()),
        VideoTask.created_at < datetime.combine(end + timedelta(days=1), datetime.min.time()),
    ]
    if user_id is not None:
        where.append(VideoTask.user_id == user_id)
    rep = Report(date_from=start, date_to=end, errors=errors)

    secs = case((VideoTask.status == st.COMPLETED, func.coalesce(VideoTask.seconds, 0)), else_=0)
    cost = case((VideoTask.status == st.COMPLETED, func.coalesce(VideoTask.cost, 0)), else_=0)
    day = func.date(VideoTask.created_at)

    # One scan of the date range (an index-only scan on PostgreSQL, see the covering
    # index on created_at); every breakdown is folded from its few hundred groups.
    rows = db.session.execute(
        select(
            day,
            VideoTask.status,
            VideoTask.model,
            VideoTask.provider_id,
            func.count(),
            func.sum(secs),
            func.sum(cost),
        )
        .where(*where)
        .group_by(day, VideoTask.status, VideoTask.model, VideoTask.provider_id)
    ).all()
    names = dict(db.session.execute(select(Provider.id, Provider.name)).all())
    models: dict = {}
    providers: dict = {}
    days: dict = {}
    for d, status, model, pid, n, s_, c in rows:
        rep.by_status[status] = rep.by_status.get(status, 0) + n
        ok = n if status == st.COMPLETED else 0
        bad = n if status == st.FAILED else 0
        for bucket, key in ((models, model), (providers, names.get(pid, "(removed)"))):
            agg = bucket.setdefault(
                key,
                {"name": key, "total": 0, "completed": 0, "failed": 0, "seconds": 0, "cost": 0.0},
            )
            agg["total"] += n
            agg["completed"] += ok
            agg["failed"] += bad
            agg["seconds"] += int(s_ or 0)
            agg["cost"] += float(c or 0)
        t, o, b, cc = days.get(str(d), (0, 0, 0, 0.0))
        days[str(d)] = (t + n, o + ok, b + bad, cc + float(c or 0))
    rep.total = sum(rep.by_status.values())
    ended = sum(rep.by_status.get(s, 0) for s in (st.COMPLETED, st.FAILED))
    rep.success_rate = (rep.by_status.get(st.COMPLETED, 0) / ended) if ended else None
    rep.per_model = sorted(models.values(), key=lambda a: -a["total"])
    rep.per_provider = sorted(providers.values(), key=lambda a: -a["total"])
    rep.seconds_generated = sum(a["seconds"] for a in rep.per_model)
    rep.cost = round(sum(a["cost"] for a in rep.per_model), 2)
    rep.per_day = []
    d = start
    while d <= end:
        n, ok, bad, cc = days.get(d.isoformat(), (0, 0, 0, 0.0))
        rep.per_day.append({"date": d, "total": n, "completed": ok, "failed": bad, "cost": cc})
        d += timedelta(days=1)
    rep.p50, rep.p95 = _percentiles(where)
    return rep


def api_counts(user_id: int) -> dict:
    """The replaced backend's /api/video/stats shape (all time)."""
    counts = dict(
        db.session.execute(
            select(VideoTask.status, func.count())
            .where(VideoTask.user_id == user_id)
            .group_by(VideoTask.status)
        ).all()
    )
    return {
        "total": sum(counts.values()),
        "completed": counts.get(st.COMPLETED, 0),
        "failed": counts.get(st.FAILED, 0),
        "processing": counts.get(st.PROCESSING, 0),
        "queued": counts.get(st.QUEUED, 0),
        "cancelled": counts.get(st.CANCELLED, 0),
    }
