"""The stats rollups answer exactly what the tasks say (percentiles within the stated
error), whatever random tasks exist and however they were written, changed or deleted:
checked by Hypothesis against plain Python over the task rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as hs
from sqlalchemy import delete, select, update

from webapp.domain import statuses as st
from webapp.domain import timings
from webapp.extensions import db
from webapp.models import ApiToken, DeletedTask, StatsRollup, User, VideoTask, rollups
from webapp.services import stats, tasks

from . import factories

BASE = date(2026, 2, 20)  # the days cross two month ends and hold a whole month
DAYS = 70
MODELS = ("sora_video2", "sora_video2-portrait", "veo-3")
STATUSES = (st.QUEUED, st.PROCESSING, st.COMPLETED, st.FAILED, st.CANCELLED)

# Feb 28, Mar 1, Mar 31, Apr 1: where daily and monthly rows meet.
month_edges = hs.sampled_from([8, 9, 39, 40])
durations = hs.one_of(
    hs.floats(0.01, 0.99),
    hs.floats(1, 600_000),
    hs.floats(1, 200).map(lambda x: round(x)),  # whole seconds: bucket edges
)
task_specs = hs.fixed_dictionaries(
    {
        "user": hs.integers(0, 2),
        "provider": hs.integers(0, 2),  # 0: none (removed)
        "model": hs.sampled_from(MODELS),
        "status": hs.sampled_from(STATUSES),
        "day": hs.one_of(hs.integers(0, DAYS - 1), month_edges),
        "second": hs.integers(0, 86_399),
        "duration": hs.one_of(hs.none(), durations),
        "seconds": hs.sampled_from([None, 4, 8, 12]),
        "cost": hs.one_of(
            hs.none(), hs.decimals(0, 50, places=4, allow_nan=False, allow_infinity=False)
        ),
        "token": hs.integers(-1, 1),  # -1: made from a page
    }
)
changes = hs.lists(
    hs.tuples(
        hs.integers(0, 10_000),
        hs.sampled_from(
            ["start", "finish", "fail", "delete", "user-delete", "recost", "core-finish"]
        ),
        durations,
        hs.decimals(0, 9, places=4, allow_nan=False, allow_infinity=False),
    ),
    max_size=8,
)
days = hs.one_of(hs.integers(0, DAYS - 1), month_edges)
ranges = hs.tuples(days, days)


@pytest.fixture
def world(app):
    """Three users, two providers, two API tokens."""
    with app.app_context():
        users = []
        for i in range(3):
            u = User(email=f"u{i}@example.com", password_hash="x")
            db.session.add(u)
            users.append(u)
        db.session.flush()
        toks = [
            ApiToken(user_id=users[i].id, name=f"ci {i}", token_hash=f"h{i}", hint=f"rl_{i}")
            for i in (0, 1)
        ]
        db.session.add_all(toks)
        db.session.commit()
        ids = {
            "users": [u.id for u in users],
            "tokens": [(t.id, t.user_id) for t in toks],
        }
    ids["providers"] = [None, factories.provider(app), factories.provider(app)]
    return ids


def _insert(world, specs) -> None:
    for s in specs:
        created = datetime.combine(BASE + timedelta(days=s["day"]), datetime.min.time())
        created += timedelta(seconds=s["second"])
        done = s["status"] in st.TERMINAL and s["duration"] is not None
        token = world["tokens"][s["token"]] if s["token"] >= 0 else None
        db.session.add(
            VideoTask(
                video_id=tasks.new_video_id(),
                user_id=token[1] if token else world["users"][s["user"]],
                api_token_id=token[0] if token else None,
                provider_id=world["providers"][s["provider"]],
                model=s["model"],
                prompt="p",
                status=s["status"],
                seconds=s["seconds"],
                cost=s["cost"],
                created_at=created,
                completed_at=created + timedelta(seconds=s["duration"]) if done else None,
                options={},
                upstream_data={},
                archive={},
            )
        )
    db.session.commit()


def _change(changes) -> None:
    """Later writes, the ways the app makes them: ORM changes, a compare-and-set UPDATE
    (as the poller writes), a row deleted outright (a user's cascade) and a task its
    owner deletes (what it leaves behind stays counted)."""
    ids = list(db.session.scalars(select(VideoTask.id).order_by(VideoTask.id)))
    for pick, kind, duration, cost in changes:
        if not ids:
            return
        task_id = ids[pick % len(ids)]
        t = db.session.get(VideoTask, task_id)
        if kind in ("delete", "user-delete"):
            if kind == "user-delete":
                db.session.add(tasks.left_behind(t))
            db.session.delete(t)
            ids.remove(task_id)
        elif kind == "core-finish":
            db.session.execute(
                update(VideoTask)
                .where(VideoTask.id == task_id)
                .values(
                    status=st.COMPLETED,
                    completed_at=t.created_at + timedelta(seconds=duration),
                    cost=cost,
                    version=VideoTask.version + 1,
                )
                .execution_options(synchronize_session=False)
            )
        elif kind == "recost":
            t.cost = cost
        elif kind == "start":
            t.status = st.PROCESSING
        else:
            t.status = st.COMPLETED if kind == "finish" else st.FAILED
            t.completed_at = t.created_at + timedelta(seconds=duration)
        db.session.commit()
        db.session.expire_all()


def _expected(rows, names, start, end, user=None, provider=None, model=None):
    """The report straight from the task rows."""
    mine = [
        t
        for t in rows
        if start <= t.created_at.date() <= end
        and (user is None or t.user_id == user)
        and (provider is None or t.provider_id == provider)
        and (model is None or t.model == model)
    ]
    by_status: dict = defaultdict(int)
    groups = {"model": {}, "provider": {}}
    days: dict = defaultdict(lambda: [0, 0, 0, 0.0])
    times = []
    for t in mine:
        ok = t.status == st.COMPLETED
        secs = (t.seconds or 0) if ok else 0
        cost = float(t.cost or 0) if ok else 0.0
        by_status[t.status] += 1
        for kind, key in (("model", t.model), ("provider", names.get(t.provider_id, "(removed)"))):
            g = groups[kind].setdefault(key, [0, 0, 0, 0, 0.0])
            g[0] += 1
            g[1] += ok
            g[2] += t.status == st.FAILED
            g[3] += secs
            g[4] += cost
        d = days[t.created_at.date()]
        d[0] += 1
        d[1] += ok
        d[2] += t.status == st.FAILED
        d[3] += cost
        if ok and t.completed_at is not None:
            times.append((t.completed_at - t.created_at).total_seconds())
    return dict(by_status), groups, dict(days), sorted(times)


def _percentile_cont(values, q):
    if not values:
        return None
    rank = q * (len(values) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (rank - lo) * (values[hi] - values[lo])


def _close(a, b):
    return abs(a - b) < 1e-6


def _check_report(rep, expected):
    by_status, groups, days, times = expected
    assert rep.by_status == by_status
    assert rep.total == sum(by_status.values())
    for kind, got in (("model", rep.per_model), ("provider", rep.per_provider)):
        assert {g["name"] for g in got} == set(groups[kind])
        for g in got:
            n, ok, bad, secs, cost = groups[kind][g["name"]]
            assert (g["total"], g["completed"], g["failed"], g["seconds"]) == (n, ok, bad, secs)
            assert _close(g["cost"], cost)
    for d in rep.per_day:
        n, ok, bad, cost = days.get(d["date"], (0, 0, 0, 0.0))
        assert (d["total"], d["completed"], d["failed"]) == (n, ok, bad)
        assert _close(d["cost"], cost)
    for q, got in ((0.5, rep.p50), (0.95, rep.p95)):
        exact = _percentile_cont(times, q)
        if exact is None:
            assert got is None
        else:
            bound = timings.RELATIVE_ERROR * exact + timings.ABSOLUTE_ERROR + 1e-6
            assert abs(got - exact) <= bound, (q, got, exact)


def _expected_spend(rows, emails, token_names, start, end, user, provider, model):
    per_user: dict = {}
    per_token: dict = {}
    for t in rows:
        if not start <= t.created_at.date() <= end:
            continue
        if user is not None and t.user_id != user:
            continue
        if (provider is not None and t.provider_id != provider) or (model and t.model != model):
            continue
        secs = (t.seconds or 0) if t.status == st.COMPLETED else 0
        for bucket, key in (
            (per_user, emails[t.user_id]),
            (per_token, token_names.get(t.api_token_id)),
        ):
            if key is None:
                continue
            g = bucket.setdefault(key, [0, 0, 0.0])
            g[0] += 1
            g[1] += secs
            g[2] += float(t.cost or 0)
    return per_user, per_token


def _rollup_rows():
    return {
        tuple(getattr(r, k) for k in rollups.KEY): (r.tasks, r.seconds, round(float(r.cost), 4))
        for r in db.session.scalars(select(StatsRollup).where(StatsRollup.tasks != 0))
    }


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@seed(20261203)
@given(
    specs=hs.lists(task_specs, min_size=1, max_size=40), later=changes, span=ranges, pick=hs.data()
)
def test_rollups_answer_what_the_tasks_say(app, world, specs, later, span, pick):
    with app.app_context():
        db.session.execute(delete(VideoTask))
        db.session.execute(delete(DeletedTask))
        db.session.execute(delete(StatsRollup))
        db.session.commit()
        _insert(world, specs)
        _change(later)

        rows = [*db.session.scalars(select(VideoTask)), *db.session.scalars(select(DeletedTask))]
        names = {p.id: p.name for p in db.session.scalars(select(factories.Provider))}
        emails = {u.id: u.email for u in db.session.scalars(select(User))}
        token_names = {t.id: f"{t.name} ({t.hint}…)" for t in db.session.scalars(select(ApiToken))}
        a, b = sorted(span)
        start, end = BASE + timedelta(days=a), BASE + timedelta(days=b)
        user = pick.draw(hs.sampled_from([None, *world["users"]]))
        provider = pick.draw(hs.sampled_from([None, *world["providers"][1:]]))
        model = pick.draw(hs.sampled_from([None, *MODELS]))

        rep = stats.report(user, start.isoformat(), end.isoformat(), provider, model)
        _check_report(rep, _expected(rows, names, start, end, user, provider, model))
        stats.spend(rep, user)
        per_user, per_token = _expected_spend(
            rows, emails, token_names, start, end, user, provider, model
        )
        assert {r["name"] for r in rep.per_user} == set(per_user)
        for r in rep.per_user:
            n, secs, cost = per_user[r["name"]]
            assert (r["tasks"], r["seconds"]) == (n, secs) and _close(r["cost"], cost)
        assert {r["name"] for r in rep.per_token} == set(per_token)
        for r in rep.per_token:
            n, secs, cost = per_token[r["name"]]
            assert (r["tasks"], r["seconds"]) == (n, secs) and _close(r["cost"], cost)

        for uid in world["users"]:
            counts = stats.api_counts(uid)
            assert counts["total"] == sum(1 for t in rows if t.user_id == uid)
            assert counts["completed"] == sum(
                1 for t in rows if t.user_id == uid and t.status == st.COMPLETED
            )

        # A rebuild from the tasks lands on the same rows the triggers kept.
        kept = _rollup_rows()
        stats.rebuild()
        assert _rollup_rows() == kept


def test_the_stated_error_holds_on_every_bucket_edge():
    """Each bucket's middle is within the stated error of both of its edges."""
    for i in range(1, timings.BUCKETS - 1):
        lo, hi = timings.RATIO ** (i - 1), timings.RATIO**i
        assert timings.bucket(lo * 1.000001) == i
        mid = timings.middle(i)
        assert abs(mid - lo) <= timings.RELATIVE_ERROR * lo + 1e-9
        assert abs(mid - hi) <= timings.RELATIVE_ERROR * hi + 1e-9


def test_rebuild_command_recounts_a_range(app, runner):
    """`flask stats rebuild --from --to` recounts only that range and says how much."""
    with app.app_context():
        u = User(email="r@example.com", password_hash="x")
        db.session.add(u)
        db.session.commit()
        uid = u.id
    factories.task(app, uid, minutes_ago=0)
    factories.task(app, uid, minutes_ago=60 * 24 * 40, status=st.FAILED)
    with app.app_context():
        db.session.execute(delete(StatsRollup))  # lost, say, by a restore from backup
        db.session.commit()
    today = datetime.utcnow().date()
    result = runner.invoke(
        args=["stats", "rebuild", "--from", today.isoformat(), "--to", today.isoformat()]
    )
    assert result.exit_code == 0, result.output
    assert "Recounted" in result.output
    with app.app_context():
        assert (
            stats.api_counts(uid)["total"] == 1
        )  # today's month only (the other is 40 days older)
    assert runner.invoke(args=["stats", "rebuild"]).exit_code == 0
    with app.app_context():
        assert stats.api_counts(uid)["failed"] == 1
    bad = runner.invoke(args=["stats", "rebuild", "--from", "yesterday"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
