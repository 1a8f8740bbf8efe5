"""What a task's live progress shows beyond its row: the model's typical generation
time, and whether a running task's fragment changed since the browser's copy."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select

from ..domain import statuses as st
from ..extensions import db
from ..models import TaskEvent, User, VideoTask
from . import tasks
from .remembered import Remembered

# A running task's progress fragment shows its row, its events and its model's typical
# time. Every write to a task sets updated_at (the column's onupdate, for ORM and Core
# updates alike; leases write it themselves) and events are only ever added, so these
# few columns say whether the fragment changed, without loading the task.
_LIVE_MARK = select(
    VideoTask.user_id,
    VideoTask.status,
    VideoTask.model,
    VideoTask.version,
    VideoTask.updated_at,
    select(func.max(TaskEvent.id))
    .where(TaskEvent.task_id == VideoTask.id)
    .scalar_subquery()
    .label("last_event"),
).where(VideoTask.video_id == bindparam("video_id"))


def live_mark(user: User, video_id: str) -> str | None:
    """What a running task's progress fragment shows, as a short fingerprint, from one
    small query: None when the task is not the user's to see, or has finished (a
    finished task's fragment is rendered in full: it is the last one polled)."""
    if not tasks.possible_id(video_id):
        return None
    row = db.session.execute(_LIVE_MARK, {"video_id": video_id}).first()
    if row is None or (row.user_id != user.id and not user.is_admin):
        return None
    if row.status in st.TERMINAL:
        return None
    return _mark(row.version, row.updated_at, row.last_event, typical_seconds(row.model))


def live_mark_of(task: VideoTask, typical: float | None) -> str | None:
    """``live_mark`` of a task loaded with its events, for the fragment just rendered
    with this ``typical`` time (the remembered one may be renewed meanwhile)."""
    if task.is_terminal:
        return None
    last_event = max((e.id for e in task.events), default=None)
    return _mark(task.version, task.updated_at, last_event, typical)


def _mark(version, updated_at, last_event, typical) -> str:
    return f"{version}.{updated_at}.{last_event or 0}.{round(typical or 0)}"


_typical = Remembered()


def typical_seconds(model: str, limit: int = 20) -> float | None:
    """The median generation time of the model's last completed tasks (everyone's),
    remembered for a minute: the progress fragment asks every 2 s."""

    def median() -> float | None:
        rows = db.session.execute(
            select(VideoTask.created_at, VideoTask.completed_at)
            .where(
                VideoTask.model == model,
                VideoTask.status == st.COMPLETED,
                VideoTask.completed_at.is_not(None),
            )
            .order_by(VideoTask.completed_at.desc())
            .limit(limit)
        ).all()
        took = sorted((done - made).total_seconds() for made, done in rows)
        return took[len(took) // 2] if took else None

    return _typical.get((db.engine, model), 60, median)  # per database, as the filters


def forget_typical() -> None:
    """Drop the remembered generation times (tests)."""
    _typical.forget()
