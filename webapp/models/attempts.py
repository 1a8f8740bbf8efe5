from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import utcnow


class SubmitAttempt(db.Model):
    """One upstream create Reelay sent (or was about to send): the ledger of every job it
    made. Recorded and committed *before* the request goes out, so a crash can never make
    a create look unsent; it outlives its task, so a job whose task was cancelled or
    deleted while the create was in flight is still known and can be stopped."""

    __tablename__ = "submit_attempts"
    __table_args__ = (
        UniqueConstraint("task_id", "number", name="uq_submit_attempts_task_number"),
        # One job is made by one attempt: two tasks can never record the same job.
        UniqueConstraint("provider_id", "external_id", name="uq_submit_attempts_provider_job"),
        Index("ix_submit_attempts_provider_state", "provider_id", "state"),
        Index("ix_submit_attempts_cleanup", "cleanup", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("video_tasks.id", ondelete="SET NULL"), index=True
    )
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="SET NULL"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … per task; 0 for a registered job
    fence: Mapped[int] = mapped_column(Integer, default=0)  # the lease token it was sent under
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of exactly what was sent
    echo: Mapped[dict] = mapped_column(JSON, default=dict)  # what a job list can echo back
    client_ref: Mapped[str | None] = mapped_column(String(100))  # sent as Idempotency-Key
    state: Mapped[str] = mapped_column(String(12))  # sending | unknown | accepted | refused | lost
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    answer_by: Mapped[datetime] = mapped_column(DateTime)  # the create's timeout ran out here
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    external_id: Mapped[str | None] = mapped_column(String(255))
    handles: Mapped[dict] = mapped_column(JSON, default=dict)  # the adapter's per-job handles
    error_code: Mapped[str | None] = mapped_column(String(64))
    # A job nobody tracks any more is stopped upstream: stopped | deleted | failed | gave_up
    cleanup: Mapped[str | None] = mapped_column(String(12))
    cleanup_after: Mapped[datetime | None] = mapped_column(DateTime)  # a sweep's short lease
    cleanup_tries: Mapped[int] = mapped_column(Integer, default=0)
    cleanup_note: Mapped[str | None] = mapped_column(String(300))

    def __repr__(self) -> str:
        return f"<SubmitAttempt {self.id} task={self.task_id} #{self.number} {self.state}>"
