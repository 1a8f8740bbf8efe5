"""Budgets and quotas held at create: the caps that apply, what is used, and the check
that cannot be overshot by concurrent creates.

The check runs inside the create's transaction after locking the owner's row
(``SELECT … FOR UPDATE`` on PostgreSQL, SQLite's write lock), so two creates of one
user are counted one after the other: the second sees the first's reservation. A task
holds its estimated cost (``reserved_cost``) while it runs and counts its actual cost
once it ends; failed and cancelled tasks cost nothing unless the provider said so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import and_, case, func, select

from ..domain import budgets as b
from ..domain import statuses as st
from ..extensions import db
from ..models import ApiToken, DeletedTask, SiteSetting, User, VideoTask
from ..models.base import utcnow
from . import locks

DEFAULTS_KEY = "default_caps"


def currency() -> str:
    return current_app.config.get("CURRENCY", "USD")


def defaults() -> dict:
    row = db.session.get(SiteSetting, DEFAULTS_KEY)
    try:
        data = json.loads(row.value) if row else {}
    except ValueError:
        data = {}
    return {k: v for k, v in data.items() if k in b.CAPS and v is not None}


def set_defaults(caps: dict) -> None:
    value = json.dumps({k: v for k, v in caps.items() if k in b.CAPS and v is not None})
    SiteSetting.put(DEFAULTS_KEY, value)
    db.session.commit()


def caps_for(user: User) -> b.Caps:
    return b.effective(defaults(), user.caps or {})


def token_caps(token: ApiToken | None) -> b.Caps:
    return b.effective({}, token.caps or {}) if token is not None else b.Caps()


def set_user_caps(user: User, override: dict) -> None:
    """``override``: cap -> value, ``None`` (unlimited) or ``...`` (back to the default)."""
    caps = {k: v for k, v in (user.caps or {}).items() if k in b.CAPS}
    for name, value in override.items():
        if value is ...:
            caps.pop(name, None)
        else:
            caps[name] = value
    user.caps = caps
    db.session.commit()


def _month_start(now: datetime) -> datetime:
    return datetime.combine(now.date().replace(day=1), time())


def _sums(t, now: datetime):
    """The month's spend and seconds and the day's count, over tasks or deleted tasks
    (``t``): a deleted task's spend stays spent, its seconds generated, its day's slot
    taken. Only a task still running holds its reservation instead of its cost."""
    month = _month_start(now)
    today = datetime.combine(now.date(), time())
    ended = t.status.in_(tuple(st.TERMINAL))
    cost = func.coalesce(t.cost, 0)
    if t is VideoTask:
        cost = case((ended, cost), else_=func.coalesce(t.reserved_cost, 0))
    spend = func.coalesce(func.sum(cost), 0)
    counted = and_(t.media_type == st.VIDEO, t.status.in_((st.QUEUED, st.PROCESSING, st.COMPLETED)))
    seconds = func.coalesce(func.sum(case((counted, func.coalesce(t.seconds, 0)), else_=0)), 0)
    made_today = func.coalesce(func.sum(case((t.created_at >= today, 1), else_=0)), 0)
    return month, ended, (spend, seconds, made_today)


def _used(who, now: datetime, by_user: bool = False) -> dict:
    """(spend, seconds, made today) of the tasks ``who(table)`` picks, deleted tasks
    added in: per user id, or under the key None."""
    used: dict = {}
    for t in (VideoTask, DeletedTask):
        month, _ended, sums = _sums(t, now)
        key = (t.user_id,) if by_user else ()
        stmt = select(*key, *sums).where(who(t), t.created_at >= month).group_by(*key)
        for *uid, spend, seconds, today in db.session.execute(stmt).all():
            uid = uid[0] if uid else None
            was = used.get(uid, (0.0, 0, 0))
            used[uid] = (was[0] + float(spend), was[1] + int(seconds), was[2] + int(today))
    return used


def _running(who, now: datetime):
    """Tasks running now, of any month (a task ends by its deadline, so these are few)."""
    t = VideoTask
    return (~t.status.in_(tuple(st.TERMINAL)), who, t.created_at >= now - timedelta(days=7))


def usage_of(user_id: int | None = None, token_id: int | None = None, now=None) -> b.Usage:
    """This month's spend and seconds, tasks running now, tasks made today (UTC): of a
    user, or of one API token."""
    now = now or utcnow()

    def who(t):
        return t.user_id == user_id if token_id is None else t.api_token_id == token_id

    spend, seconds, today = _used(who, now).get(None, (0.0, 0, 0))
    running = db.session.scalar(select(func.count()).where(*_running(who(VideoTask), now)))
    return b.Usage(spend, seconds, int(running or 0), today)


def usage_by_user(user_ids: list[int], now=None) -> dict[int, b.Usage]:
    """``usage_of`` for many users in three grouped queries (the admin Users page)."""
    now = now or utcnow()
    t = VideoTask
    used = _used(lambda t: t.user_id.in_(user_ids), now, by_user=True)
    running = dict(
        db.session.execute(
            select(t.user_id, func.count())
            .where(*_running(t.user_id.in_(user_ids), now))
            .group_by(t.user_id)
        ).all()
    )
    out = {}
    for uid in user_ids:
        spend, seconds, today = used.get(uid, (0.0, 0, 0))
        out[uid] = b.Usage(spend, seconds, int(running.get(uid, 0)), today)
    return out


@dataclass(frozen=True)
class Standing:
    """What the pages show: the caps, what is used, what is left."""

    caps: b.Caps
    usage: b.Usage
    left: dict
    currency: str


def standing(user: User) -> Standing:
    caps = caps_for(user)
    usage = usage_of(user.id)
    return Standing(caps, usage, b.remaining(caps, usage), currency())


def reserve(user: User, token: ApiToken | None, cost: float, seconds: int) -> b.Over | None:
    """Lock the owner, then say which cap (if any) one more task would overshoot. The
    caller inserts the task in this same transaction, so the next create of this user
    (waiting on the lock) counts it."""
    caps, extra = caps_for(user), token_caps(token)
    if not caps.any and not extra.any:
        return None
    locks.for_update(db.session, User, User.id, user.id)
    over = b.check(caps, usage_of(user.id), cost, seconds, currency())
    if over is None and extra.any:
        over = b.check(
            extra, usage_of(token_id=token.id), cost, seconds, currency(), "this token's"
        )
    return over
