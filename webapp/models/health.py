"""What Reelay knows about each provider's health, shared by every process: the circuit
breaker, per-minute call statistics, and the request-rate token bucket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class ProviderHealth(db.Model):
    """The circuit breaker of one provider (see ``domain/health.py``)."""

    __tablename__ = "provider_health"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(10), default="closed")
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive
    opened_until: Mapped[datetime | None] = mapped_column(DateTime)
    cooldown: Mapped[float] = mapped_column(Float, default=0.0)
    probe_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))  # summarised, never echoed
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime)


class ProviderCallStat(db.Model):
    """Calls of one kind (``submit`` or ``status``) to one provider in one minute, as seen
    by one process (each process writes only its own rows: no contention, no merging
    in SQL). ``histogram`` counts latencies per bucket of ``domain.health.BOUNDS_MS``."""

    __tablename__ = "provider_call_stats"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True
    )
    op: Mapped[str] = mapped_column(String(10), primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    histogram: Mapped[list] = mapped_column(JSON, default=list)


class ProviderBucket(db.Model):
    """The shared request-rate token bucket of one provider (``services/throttle.py``)."""

    __tablename__ = "provider_buckets"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True
    )
    tokens: Mapped[float] = mapped_column(Float, default=1.0)
    stamp: Mapped[float] = mapped_column(Float, default=0.0)  # epoch seconds of the last take
