"""What an adapter's job list offers for a lost create: ``list_jobs`` filtered by the
same matching rule the lifecycle uses (domain.reconcile)."""

from __future__ import annotations

from datetime import datetime, timedelta

from webapp.domain.reconcile import CLOCK_SKEW, AttemptKey, JobKey, echo_of, matches


def listed_matching(adapter, job, since: datetime, until: datetime | None = None):
    """Jobs the adapter lists that could be ``job``'s, created between since and until."""
    until = until or since + timedelta(days=3650)
    key = AttemptKey(
        0,
        echo_of(job.model, job.prompt, job.size, job.seconds),
        since + CLOCK_SKEW,
        until - CLOCK_SKEW,
    )
    return [
        j
        for j in adapter.list_jobs(since)
        if matches(key, JobKey(j.external_id, j.created_at, j.echo))
    ]
