"""Which upstream job an unconfirmed create made, decided without guessing.

A create whose answer was lost may or may not have made a job. The provider's list of
recent jobs is searched for it, but one upstream key is shared by every user of a
provider, so a job is adopted only when nothing else could explain it: it matches the
attempt (same request, created while that request was in flight), no other attempt
that may have made a job matches it, and no other unknown job matches the attempt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

# Allowance for the upstream's clock being off from ours.
CLOCK_SKEW = timedelta(seconds=120)


@dataclass(frozen=True)
class Echo:
    """What a create sent that a provider's job list may echo back."""

    model: str | None = None
    prompt_sha: str | None = None
    size: str | None = None
    seconds: int | None = None


def prompt_sha(prompt: str | None) -> str | None:
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest() if prompt else None


def echo_of(model=None, prompt=None, size=None, seconds=None) -> Echo:
    return Echo(
        model=model or None,
        prompt_sha=prompt_sha(prompt),
        size=size or None,
        seconds=int(seconds) if seconds not in (None, "") else None,
    )


@dataclass(frozen=True)
class AttemptKey:
    """An attempt that may have made a job nobody knows yet."""

    id: int
    echo: Echo
    started_at: datetime
    answer_by: datetime  # the create could not have been answered later than this


@dataclass(frozen=True)
class JobKey:
    """A job the provider listed."""

    external_id: str
    created_at: datetime | None
    echo: Echo


def matches(attempt: AttemptKey, job: JobKey) -> bool:
    """The job could be the one this attempt's create made."""
    if job.created_at is None:
        return False
    if not attempt.started_at - CLOCK_SKEW <= job.created_at <= attempt.answer_by + CLOCK_SKEW:
        return False
    mine, theirs = attempt.echo, job.echo
    if not mine.prompt_sha or mine.prompt_sha != theirs.prompt_sha:
        return False  # no echoed prompt: too little to tell two users' jobs apart
    return all(
        a is None or b is None or a == b
        for a, b in (
            (mine.model, theirs.model),
            (mine.size, theirs.size),
            (mine.seconds, theirs.seconds),
        )
    )


@dataclass(frozen=True)
class Choice:
    job: JobKey | None
    reason: str  # unique | none | several | shared


def choose(
    mine: AttemptKey, jobs: list[JobKey], others: list[AttemptKey], known: set[str]
) -> Choice:
    """The job ``mine`` may adopt, if exactly one fits and it fits nobody else.

    ``others`` are the other attempts of the same provider that may have made a job
    Reelay does not know (any user, any task); ``known`` are job ids already recorded."""
    candidates = [j for j in jobs if j.external_id not in known and matches(mine, j)]
    if not candidates:
        return Choice(None, "none")
    if len(candidates) > 1:
        return Choice(None, "several")
    job = candidates[0]
    if any(matches(other, job) for other in others if other.id != mine.id):
        return Choice(None, "shared")
    return Choice(job, "unique")


def strays(
    hunted: list[AttemptKey], jobs: list[JobKey], open_: list[AttemptKey], known: set[str]
) -> list[tuple[AttemptKey, JobKey]]:
    """Unknown jobs that only given-up attempts can explain, paired with one of them.

    Such a job is wanted by nobody whichever attempt made it, so it can be stopped; a
    job that an attempt still being resolved could explain is left alone."""
    out = []
    taken: set[int] = set()
    for job in jobs:
        if job.external_id in known or any(matches(a, job) for a in open_):
            continue
        owner = next((a for a in hunted if a.id not in taken and matches(a, job)), None)
        if owner is None:
            owner = next((a for a in hunted if matches(a, job)), None)
        if owner is not None:
            taken.add(owner.id)
            out.append((owner, job))
    return out
