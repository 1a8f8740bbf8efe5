"""Statistics for one user or everyone: counts, success rate, generation time
percentiles, per model / provider / day, seconds generated and cost.

Read from the rollups the database keeps in step with every task write
(``models.rollups``), never from the tasks themselves; ``rebuild`` recounts them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Float, and_, case, cast, delete, func, or_, select, text

from ..domain import statuses as st
from ..domain import timings
from ..domain.spreadsheet import cell
from ..extensions import db
from ..models import ApiToken, Provider, StatsRollup, User, rollups
from ..models.base import utcnow
from .history import record_id

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
    bars: list = field(default_factory=list)  # what the charts draw: days, or weeks
    bar_unit: str = "day"
    errors: dict = field(default_factory=dict)  # field -> message, for the date inputs
    per_user: list = field(default_factory=list)  # admin: spend per user
    per_token: list = field(default_factory=list)  # admin: spend per API token
    provider_id: int | None = None  # filters
    model: str | None = None


EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
MAX_DAYS = 366  # one range's days (a leap year); a longer one is cut and says so


def parse_range(date_from: str | None, date_to: str | None) -> tuple[date, date, dict]:
    """The date range asked for, with field errors for dates that cannot be read or lie
    outside 2000–2999 (those fall back to the default range) and for a range longer
    than MAX_DAYS (cut to its last MAX_DAYS days)."""
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
    if (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
        errors.setdefault("from", f"At most {MAX_DAYS} days at a time: showing {start} to {end}.")
    return max(start, EARLIEST), end, errors


def _month_after(d: date) -> date:
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


def _span(base: str, start: date, end: date):
    """The rollup rows that cover [start, end] once: the monthly twin's rows for the
    whole months inside, the daily rows for the ragged ends."""
    r = StatsRollup
    first = start if start.day == 1 else _month_after(start)  # first whole month
    stop = _month_after(end) if _month_after(end) - timedelta(days=1) == end else end.replace(day=1)
    if first >= stop:  # no whole month inside
        return and_(r.grain == base, r.day >= start, r.day <= end)
    return or_(
        and_(r.grain == base + rollups.MONTHLY, r.day >= first, r.day < stop),
        and_(r.grain == base, r.day >= start, r.day < first),
        and_(r.grain == base, r.day >= stop, r.day <= end),
    )


def _filters(rep: Report) -> list:
    r = StatsRollup
    where = []
    if rep.provider_id is not None:
        where.append(r.provider_id == rep.provider_id)
    if rep.model:
        where.append(r.model == rep.model)
    return where


def _entry(name, n, s_, c, **more) -> dict:
    return {"name": name, "tasks": int(n), "seconds": int(s_ or 0), "cost": float(c or 0), **more}


def spend(rep: Report, user_id: int | None = None) -> Report:
    """Spend per user and per API token in the report's range and filters (what each
    task cost, whatever its status; seconds only for completed tasks)."""
    r = StatsRollup
    sums = (func.sum(r.tasks), func.sum(r.seconds), cast(func.sum(r.cost), Float))
    start, end = rep.date_from, rep.date_to
    mine = [r.user_id == user_id] if user_id is not None else []
    # Without provider/model filters the one-row-per-user grain answers; with them, the
    # per-user task grain does.
    base = "task" if _filters(rep) else "user"
    per_user = (
        select(r.user_id, *sums)
        .where(_span(base, start, end), *mine, *_filters(rep))
        .group_by(r.user_id)
        .having(func.sum(r.tasks) > 0)
        .subquery()
    )
    users = db.session.execute(
        select(User.email, *list(per_user.c)[1:]).join(per_user, per_user.c.user_id == User.id)
    ).all()
    per_token = (
        select(r.api_token_id, *sums)
        .where(_span("token", start, end), *mine, *_filters(rep))
        .group_by(r.api_token_id)
        .having(func.sum(r.tasks) > 0)
        .subquery()
    )
    tokens = db.session.execute(
        select(ApiToken.name, ApiToken.hint, User.email, *list(per_token.c)[1:])
        .join(per_token, per_token.c.api_token_id == ApiToken.id)
        .join(User, User.id == ApiToken.user_id)
    ).all()
    rep.per_user = sorted((_entry(*row) for row in users), key=lambda e: -e["cost"])
    rep.per_token = sorted(
        (_entry(f"{name} ({hint}…)", *sums_, owner=e) for name, hint, e, *sums_ in tokens),
        key=lambda e: -e["cost"],
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


def from_args(args, user_id: int | None) -> Report:
    """The report a stats page's query string asks for (from, to, provider, model)."""
    model = (args.get("model") or "").strip()[:100] or None
    return report(user_id, args.get("from"), args.get("to"), record_id(args.get("provider")), model)


def url_args(rep: Report, **more) -> dict:
    """The query string that asks for this report again (empty filters left out)."""
    args = {"from": rep.date_from.isoformat(), "to": rep.date_to.isoformat()}
    args.update(provider=rep.provider_id, model=rep.model, **more)
    return {k: v for k, v in args.items() if v}


def report(
    user_id: int | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    provider_id: int | None = None,
    model: str | None = None,
) -> Report:
    """Everything the stats pages show, read from the rollups (``models.rollups``): a
    few thousand rows for a year of everyone's tasks. Counts, seconds and cost are
    exact; p50/p95 come from the time histograms, within ``timings.RELATIVE_ERROR``."""
    start, end, errors = parse_range(date_from, date_to)
    rep = Report(
        date_from=start, date_to=end, errors=errors, provider_id=provider_id, model=model or None
    )
    r = StatsRollup
    base, who = ("all", 0) if user_id is None else ("task", user_id)
    where = [r.user_id == who, *_filters(rep)]
    done = r.status == st.COMPLETED
    done_sum = (
        func.sum(case((done, r.seconds), else_=0)),
        cast(func.sum(case((done, r.cost), else_=0)), Float),
    )
    # One pass gives the totals and the time histogram (bucket is -1 but for completed).
    totals = db.session.execute(
        select(r.status, r.model, r.provider_id, r.bucket, func.sum(r.tasks), *done_sum)
        .where(_span(base, start, end), *where)
        .group_by(r.status, r.model, r.provider_id, r.bucket)
        .having(func.sum(r.tasks) > 0)
    ).all()
    names = dict(db.session.execute(select(Provider.id, Provider.name)).all())
    models: dict = {}
    providers: dict = {}
    histogram: dict = {}
    for status, model_name, pid, bucket_, n, s_, c in totals:
        n, s_, c = int(n), int(s_ or 0), float(c or 0)
        if status == st.COMPLETED and bucket_ >= 0:
            histogram[bucket_] = histogram.get(bucket_, 0) + n
        rep.by_status[status] = rep.by_status.get(status, 0) + n
        for bucket, key in ((models, model_name), (providers, names.get(pid, "(removed)"))):
            agg = bucket.setdefault(
                key,
                {"name": key, "total": 0, "completed": 0, "failed": 0, "seconds": 0, "cost": 0.0},
            )
            agg["total"] += n
            agg["completed"] += n if status == st.COMPLETED else 0
            agg["failed"] += n if status == st.FAILED else 0
            agg["seconds"] += s_
            agg["cost"] += c
    rep.total = sum(rep.by_status.values())
    ended = sum(rep.by_status.get(s, 0) for s in (st.COMPLETED, st.FAILED))
    rep.success_rate = (rep.by_status.get(st.COMPLETED, 0) / ended) if ended else None
    rep.per_model = sorted(models.values(), key=lambda a: -a["total"])
    rep.per_provider = sorted(providers.values(), key=lambda a: -a["total"])
    rep.seconds_generated = sum(a["seconds"] for a in rep.per_model)
    rep.cost = round(sum(a["cost"] for a in rep.per_model), 2)

    # The per-day series: everyone's, unfiltered, has a grain of its own.
    if user_id is None and not _filters(rep):
        day_where = [r.grain == "day", r.user_id == 0]
    else:
        day_where = [r.grain == base, *where]
    failed = r.status == st.FAILED
    per_day = db.session.execute(
        select(
            r.day,
            func.sum(r.tasks),
            func.sum(case((done, r.tasks), else_=0)),
            func.sum(case((failed, r.tasks), else_=0)),
            cast(func.sum(case((done, r.cost), else_=0)), Float),
        )
        .where(*day_where, r.day >= start, r.day <= end)
        .group_by(r.day)
    ).all()
    days = {d: (int(n), int(ok), int(bad), c or 0.0) for d, n, ok, bad, c in per_day}
    rep.per_day = []
    d = start
    while d <= end:
        n, ok, bad, cc = days.get(d, (0, 0, 0, 0.0))
        rep.per_day.append({"date": d, "total": n, "completed": ok, "failed": bad, "cost": cc})
        d += timedelta(days=1)

    rep.bars, rep.bar_unit = chart_bars(rep.per_day)

    rep.p50 = timings.percentile(histogram, 0.5)
    rep.p95 = timings.percentile(histogram, 0.95)
    return rep


CHART_DAYS = 92  # longer ranges chart a bar per week: a year of days is 1.6 px a bar


def chart_bars(per_day: list) -> tuple[list, str]:
    """The charts' bars: one per day up to CHART_DAYS, else one per week (Monday to
    Sunday, cut at the range's ends). Each bar has its first and last day."""
    if len(per_day) <= CHART_DAYS:
        return [{**d, "end": d["date"]} for d in per_day], "day"
    bars: list = []
    for d in per_day:
        if not bars or d["date"].weekday() == 0:
            bars.append({**d, "end": d["date"]})
            continue
        bar = bars[-1]
        bar["end"] = d["date"]
        for key in ("total", "completed", "failed", "cost"):
            bar[key] += d[key]
    return bars, "week"


def rebuild(start: date | None = None, end: date | None = None) -> int:
    """Recompute the rollups of the tasks created from ``start`` to ``end`` (inclusive,
    widened to whole months; all of them by default) from the tasks themselves; returns
    the rows written (deleted tasks' spend included). Task
    writes wait while it runs (PostgreSQL: a SHARE lock on the tasks table), so nothing
    changes between the delete and the recount."""
    lo = datetime.combine((start or EARLIEST).replace(day=1), datetime.min.time())
    hi = datetime.combine(_month_after(end or LATEST), datetime.min.time())
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        db.session.execute(text("LOCK TABLE video_tasks, deleted_tasks IN SHARE MODE"))
    db.session.execute(
        delete(StatsRollup).where(StatsRollup.day >= lo.date(), StatsRollup.day < hi.date())
    )
    written = 0
    for grain in rollups.GRAINS:
        written += db.session.execute(
            text(rollups.rebuild_sql(dialect, grain, with_deleted=True)), {"start": lo, "end": hi}
        ).rowcount
    db.session.commit()
    return written


def api_counts(user_id: int) -> dict:
    """The replaced backend's /api/video/stats shape (all time)."""
    r = StatsRollup
    counts = {
        status: int(n)
        for status, n in db.session.execute(
            select(r.status, func.sum(r.tasks))
            .where(r.grain == "task" + rollups.MONTHLY, r.user_id == user_id)
            .group_by(r.status)
        ).all()
    }
    return {
        "total": sum(counts.values()),
        "completed": counts.get(st.COMPLETED, 0),
        "failed": counts.get(st.FAILED, 0),
        "processing": counts.get(st.PROCESSING, 0),
        "queued": counts.get(st.QUEUED, 0),
        "cancelled": counts.get(st.CANCELLED, 0),
    }
