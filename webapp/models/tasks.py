from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain import statuses
from ..domain.task_facts import TaskFacts
from ..extensions import db
from .base import utcnow

# Rows the poller may claim: still running, or waiting for an upstream action
# (cancel / refresh) requested from a page.
_DUE_SQL = text("status IN ('QUEUED', 'PROCESSING') OR pending_action IS NOT NULL")


class VideoTask(db.Model, TaskFacts):
    """One generation job, tracked by our ``video_id`` and the upstream's id."""

    __tablename__ = "video_tasks"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_video_tasks_user_idem"),
        Index("ix_video_tasks_user_created", "user_id", "created_at", "id"),
        Index("ix_video_tasks_user_status_created", "user_id", "status", "created_at"),
        # Admin → All tasks lists everyone's tasks newest first. (Stats read the
        # rollups, so this index no longer carries their columns: a status change can
        # stay a HOT update.)
        Index("ix_video_tasks_created", "created_at"),
        # The poller's claim query only ever looks at active rows.
        Index(
            "ix_video_tasks_due",
            "next_poll_at",
            postgresql_where=_DUE_SQL,
            sqlite_where=_DUE_SQL,
        ),
        Index("ix_video_tasks_status_next_poll", "status", "next_poll_at"),
        # Prompt search (ILIKE '%word%') on PostgreSQL: a trigram index finds a rare word
        # without reading every prompt. SQLite keeps a scan (the index there is empty).
        Index(
            "ix_video_tasks_prompt_trgm",
            "prompt",
            postgresql_using="gin",
            postgresql_ops={"prompt": "gin_trgm_ops"},
            sqlite_where=text("0"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[str] = mapped_column(String(48), unique=True)
    external_task_id: Mapped[str | None] = mapped_column(String(255), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("providers.id", ondelete="SET NULL"), index=True
    )
    model: Mapped[str] = mapped_column(String(100))  # the name the user chose
    upstream_model: Mapped[str | None] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    size: Mapped[str | None] = mapped_column(String(20))
    seconds: Mapped[int | None] = mapped_column(Integer)
    aspect_ratio: Mapped[str | None] = mapped_column(String(10))
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    media_type: Mapped[str] = mapped_column(String(10), default=statuses.VIDEO)
    status: Mapped[str] = mapped_column(String(12), default=statuses.QUEUED)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(500))
    upstream_data: Mapped[dict] = mapped_column(JSON, default=dict)  # adapter handles
    reference_image_key: Mapped[str | None] = mapped_column(String(300))
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime)
    pending_action: Mapped[str | None] = mapped_column(String(16))  # cancel | refresh
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    # The fencing token: every claim takes the next number, and every result write is
    # conditional on it, so a holder whose lease was taken over can no longer write.
    lease_token: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Bumped by every write (poller results and user actions alike): results are written
    # compare-and-set on it, so a decision is never made on facts that have changed.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # submit attempts
    poll_count: Mapped[int] = mapped_column(Integer, default=0)
    error_streak: Mapped[int] = mapped_column(Integer, default=0)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)  # upstream content expiry
    archive: Mapped[dict] = mapped_column(JSON, default=dict)  # variant -> archive key
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)
    remix_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("video_tasks.id", ondelete="SET NULL"), index=True
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    cost: Mapped[float | None] = mapped_column(Numeric(12, 4))  # actual, once it ends
    # The estimate held against the owner's budget while the task runs (the most any
    # provider on its route would charge).
    reserved_cost: Mapped[float | None] = mapped_column(Numeric(12, 4))
    api_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    user = relationship("User")
    provider = relationship("Provider")
    remix_of = relationship("VideoTask", remote_side=[id])
    events: Mapped[list[TaskEvent]] = relationship(
        back_populates="task", order_by="TaskEvent.id", cascade="all, delete-orphan"
    )

    @property
    def owner_email(self) -> str:
        return self.user.email

    def __repr__(self) -> str:
        return f"<VideoTask {self.video_id} {self.status}>"


class DeletedTask(db.Model):
    """What a deleted task leaves behind: its owner, model, status and spend, and nothing
    of its content (prompt, files, upstream data). Money spent upstream stays spent, so
    budgets and stats go on counting a task after its owner deletes it; the rollup
    triggers count these rows as they count tasks."""

    __tablename__ = "deleted_tasks"
    __table_args__ = (Index("ix_deleted_tasks_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # its own (SQLite reuses task ids)
    video_id: Mapped[str] = mapped_column(String(48))  # the task's: our ids are never reused
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="SET NULL"))
    api_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="SET NULL"), index=True
    )
    model: Mapped[str] = mapped_column(String(100))
    media_type: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))  # terminal: a running task is cancelled
    seconds: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Numeric(12, 4))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TaskEvent(db.Model):
    """Audit trail: one row per status transition and notable happening."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("video_tasks.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # status | submit | retry | archive | info
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    message: Mapped[str] = mapped_column(String(500), default="")

    task: Mapped[VideoTask] = relationship(back_populates="events")


# The trigram index needs PostgreSQL's pg_trgm extension (in every distribution's
# contrib); create_all (tests) makes it like the migration does.
event.listen(
    VideoTask.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)
