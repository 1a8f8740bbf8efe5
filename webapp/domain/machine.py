"""The task state machine: what to do next and what an outcome changes, from facts alone.

``next_action(state, now)`` picks the one upstream step a task needs; the services
perform it and report an ``Outcome``; ``decide(state, outcome, now)`` says what the
task becomes. No database, no HTTP, no clock of its own: the services pass ``now``.
Terminal statuses never change; only follow-ups (refresh, stopping a job upstream)
run on a finished task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from . import routing
from . import statuses as st
from .polling import backoff_delay, next_poll_delay

RECONCILE_DELAYS = (5.0, 15.0, 30.0)  # seconds between looks for an unconfirmed submit
MAX_ARCHIVE_TRIES = 5  # downloads of a finished result before the task fails
MAX_NOT_FOUND = 3  # "unknown job" answers in a row before the task fails
MAX_STOP_TRIES = 8  # upstream cancel/delete attempts before Reelay stops asking
MAX_REFRESH_ERRORS = 3  # failed looks before a refresh gives up and says so

CANCEL = "cancel"
REFRESH = "refresh"

# States of a submit attempt (see services/attempts.py).
SENDING = "sending"  # recorded and committed; the create may be on the wire
UNKNOWN = "unknown"  # no answer came back: the upstream may or may not have the job
ACCEPTED = "accepted"
REFUSED = "refused"  # definitely not accepted (nothing exists upstream)
LOST = "lost"  # never confirmed and never found
UNRESOLVED = frozenset({SENDING, UNKNOWN})


class Action(Enum):
    SUBMIT = "submit"
    RECONCILE = "reconcile"  # look for the job an unconfirmed create may have made
    POLL = "poll"
    REFRESH = "refresh"  # re-check a finished job, re-archive what is missing
    STOP = "stop"  # cancel (or delete) the job upstream
    EXPIRE = "expire"  # the deadline passed
    CLEAR = "clear"  # a follow-up with nothing left to do upstream
    NONE = "none"


class Kind(Enum):
    """What an upstream step found out."""

    ACCEPTED = "accepted"  # the provider has the job (an answer, or found while reconciling)
    REFUSED = "refused"  # definitely not accepted, worth retrying (5xx, 429, unreachable)
    REJECTED = "rejected"  # definitely not accepted, retrying will not help (4xx, auth)
    UNCONFIRMED = "unconfirmed"  # may have been accepted: no answer came back
    NOT_FOUND_YET = "not_found_yet"  # reconciling: not among the provider's jobs (yet)
    UNRESOLVABLE = "unresolvable"  # reconciling: cannot look, or several jobs match
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # finished upstream and archived (verified media)
    ARCHIVE_FAILED = "archive_failed"  # finished upstream, but the download failed or was not media
    CONTENT_GONE = "content_gone"  # finished upstream, result gone before it was archived
    GENERATION_FAILED = "generation_failed"
    CANCELLED_UPSTREAM = "cancelled_upstream"
    POLL_ERROR = "poll_error"  # could not look this time
    UNKNOWN_JOB = "unknown_job"  # the provider says it has no such job
    STOPPED = "stopped"  # the provider stopped (or deleted) the job
    STOP_ERROR = "stop_error"  # could not reach the provider to stop it; retry
    STOP_IMPOSSIBLE = "stop_impossible"  # the provider cannot stop it (or refused)
    DEADLINE = "deadline"
    PROVIDER_GONE = "provider_gone"


@dataclass(frozen=True)
class Policy:
    """The tunable numbers of the machine (settings; tests shorten them)."""

    reconcile_delays: tuple[float, ...] = RECONCILE_DELAYS
    retry_base: float = 5.0  # first backoff step, doubling per failure (capped at 300 s)
    submit_window: float = 600.0  # seconds a create keeps going round its providers


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class TaskState:
    """The facts about a task that decisions depend on."""

    status: str
    created_at: datetime
    deadline_at: datetime | None = None
    pending: str | None = None  # CANCEL | REFRESH
    has_external: bool = False
    attempt: str | None = None  # state of the latest submit attempt, None before the first
    error_streak: int = 0  # consecutive failures of whatever is being tried now
    progress: int = 0
    poll_count: int = 0
    media_type: str = st.VIDEO
    seconds: int | None = None
    price_per_second: float = 0.0
    last_error: str | None = None
    route: routing.Route | None = None  # the providers a create may go to, and where it is

    @property
    def unresolved(self) -> bool:
        """A create may have made a job this task does not track: its answer is missing
        (sending, unknown), or it arrived after the holder lost the task, so only the
        attempt recorded it (accepted). Either way the next step looks, never resends."""
        return not self.has_external and (self.attempt in UNRESOLVED or self.attempt == ACCEPTED)


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    code: str | None = None
    message: str | None = None  # short and safe to show (already summarised)
    external_id: str | None = None
    progress: int | None = None
    poll_after: float | None = None  # the provider's own hint (seconds)
    retry_after: float | None = None
    expires_at: datetime | None = None
    archived: dict | None = None  # variant -> archive entry (verified)
    cost: float | None = None  # what the provider says the job cost
    note: str | None = None  # the event text, when the step has a better one
    handles: dict | None = None  # the adapter's per-job handles, kept with the task
    attempt_id: int | None = None  # the submit attempt this answer belongs to
    lasting: bool = False  # REFUSED: asking this provider again soon will not help


@dataclass(frozen=True)
class Transition:
    """Column values to write, the event to record, and what to do straight after."""

    values: dict = field(default_factory=dict)
    event: tuple[str, str] | None = None  # (kind, message)
    data: dict = field(default_factory=dict)  # keys merged into upstream_data
    then: Action | None = None  # another step to run at once (same lease)
    attempt: str | None = None  # new state for the unresolved attempt (LOST)

    @property
    def status(self) -> str | None:
        return self.values.get("status")


def next_action(s: TaskState, now: datetime) -> Action:
    if s.pending == CANCEL:
        if s.unresolved:
            return Action.RECONCILE  # the job may exist: find it so it can be stopped
        return Action.STOP if s.has_external else Action.CLEAR
    if s.status in st.TERMINAL:
        if s.pending == REFRESH:
            return Action.REFRESH if s.status == st.COMPLETED and s.has_external else Action.CLEAR
        return Action.NONE
    if _past(s, now):
        return Action.EXPIRE
    if s.status == st.QUEUED:
        return Action.RECONCILE if s.unresolved else Action.SUBMIT
    return Action.POLL


def decide(s: TaskState, o: Outcome, now: datetime, p: Policy = DEFAULT_POLICY) -> Transition:
    """What ``o`` changes about a task in state ``s``."""
    if s.pending == CANCEL or (s.status in st.TERMINAL and s.pending != REFRESH):
        return _after_cancel(s, o, now, p)
    if s.status in st.TERMINAL:
        return _refresh(s, o, now, p)
    return _HANDLERS[o.kind](s, o, now, p)


# ---- helpers -------------------------------------------------------------------------


def _past(s: TaskState, now: datetime) -> bool:
    return s.deadline_at is not None and now >= s.deadline_at


def _at(s: TaskState, now: datetime, seconds: float) -> datetime:
    """The next look, never later than the deadline (so every task ends by it)."""
    when = now + timedelta(seconds=seconds)
    return min(when, s.deadline_at) if s.deadline_at else when


def _fail(s: TaskState, now: datetime, code: str, message: str, **extra) -> Transition:
    values = {
        "status": st.FAILED,
        "error_code": code[:64],
        "error_message": message[:500],
        "completed_at": now,
        "next_poll_at": None,
        "pending_action": None,
        "error_streak": 0,
        **extra.pop("values", {}),
    }
    return Transition(values=values, event=("status", message), **extra)


def _stop_now(s: TaskState, o: Outcome, now: datetime, message: str, values: dict) -> Transition:
    """The job exists upstream but nobody wants it any more: ask the provider to stop it."""
    values = {**values, "pending_action": CANCEL, "next_poll_at": now, "error_streak": 0}
    return Transition(values=values, event=("info", message), then=Action.STOP, data=_handles(o))


def _cost(s: TaskState, o: Outcome):
    if o.cost is not None:
        return round(float(o.cost), 4)
    if not s.price_per_second:
        return None
    if s.media_type == st.IMAGE:
        return round(s.price_per_second, 4)
    return round(s.price_per_second * (s.seconds or 0), 4)


def _completed(s: TaskState, o: Outcome, now: datetime, message: str) -> Transition:
    values = {
        "status": st.COMPLETED,
        "progress": 100,
        "completed_at": now,
        "archive": o.archived or {},
        "archived_at": now,
        "next_poll_at": None,
        "error_streak": 0,
        "error_code": None,
        "error_message": None,
        "poll_count": s.poll_count + 1,
        "cost": _cost(s, o),
    }
    if o.expires_at:
        values["expires_at"] = o.expires_at
    return Transition(values=values, event=("status", message))


# ---- an active task ------------------------------------------------------------------


def _accepted(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    if s.has_external:
        return Transition(event=("info", f"The provider confirmed job {o.external_id} again."))
    base = {"external_task_id": o.external_id, "submitted_at": now}
    if o.archived:  # synchronous providers hand the result back with the answer
        t = _completed(s, o, now, o.note or "Completed and archived.")
        return Transition(values={**base, **t.values}, event=t.event, data=_handles(o))
    if _past(s, now):
        return _fail(
            s,
            now,
            "timeout",
            "Timed out: the provider accepted the job only after the deadline; "
            "Reelay asked it to stop.",
            values={**base, "pending_action": CANCEL, "next_poll_at": now},
            then=Action.STOP,
            data=_handles(o),
        )
    progress = max(0, min(o.progress or 0, 99))
    values = {
        **base,
        "status": st.PROCESSING,
        "progress": progress,
        "error_streak": 0,
        "error_code": None,
        "error_message": None,
        "next_poll_at": _at(s, now, next_poll_delay(progress, o.poll_after)),
    }
    if o.expires_at:
        values["expires_at"] = o.expires_at
    message = o.note or f"Accepted by the provider as {o.external_id}."
    return Transition(values=values, event=("submit", message), data=_handles(o))


def _handles(o: Outcome) -> dict:
    return {"handles": o.handles} if o.handles else {}


def _refused(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    """Definitely not accepted: the next provider on the route at once, or (a round
    over) the first again after a backoff, or a failure naming every reason."""
    if _past(s, now):
        return _fail(
            s, now, "submit_timeout", f"Could not be submitted before the deadline ({o.message})."
        )
    route = s.route or routing.Route((routing.Stop(0, "the provider", ""),))
    window_over = (now - s.created_at).total_seconds() >= p.submit_window
    r = routing.after_refusal(
        route, o.message or "The provider refused it.", o.lasting, window_over
    )
    data = {"route": r.route.to_json()} if s.route else {}
    if r.next is routing.Next.GIVE_UP:
        several = len(route.stops) > 1
        code = "no_provider_accepted" if several else (o.code or "upstream_refused")
        return _fail(s, now, code, r.message, data=data)
    values = {"error_code": o.code, "error_message": o.message}
    if s.route:
        values.update(provider_id=r.route.current.id, upstream_model=r.route.current.upstream)
    if r.next is routing.Next.HOP:
        here, there = route.current.name, r.route.current.name
        values.update(error_streak=0, next_poll_at=now)
        reason = (o.message or "it refused").rstrip(".")
        event = ("route", f"{here} did not take it ({reason}); sending it to {there}.")
        return Transition(values=values, event=event, data=data, then=Action.SUBMIT)
    streak = r.route.rounds if s.route else s.error_streak + 1  # rounds, not hops
    delay = backoff_delay(streak, o.retry_after, base=p.retry_base)
    values.update(error_streak=streak, next_poll_at=_at(s, now, delay))
    if len(route.stops) > 1:
        message = f"No provider took it this round; trying again in {int(delay)}s."
    else:
        message = f"Submission not accepted yet ({o.message}); retrying in {int(delay)}s."
    return Transition(values=values, event=("retry", message), data=data)


def _rejected(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    return _fail(s, now, o.code or "upstream_rejected", o.message or "The provider refused it.")


def _unconfirmed(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    values = {
        "error_streak": 0,
        "error_code": "upstream_ambiguous",
        "error_message": "Waiting for the provider to confirm the submission.",
        "next_poll_at": _at(s, now, o.retry_after or p.reconcile_delays[0]),
    }
    message = "No answer to the submission; checking with the provider before anything else."
    return Transition(values=values, event=("retry", message))


def _not_found_yet(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    looks = s.error_streak + 1
    if looks >= len(p.reconcile_delays):
        return _unresolvable(s, o, now, p)
    values = {
        "error_streak": looks,
        "next_poll_at": _at(s, now, o.retry_after or p.reconcile_delays[looks]),
    }
    return Transition(values=values)


def _unresolvable(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    message = o.message or (
        "The provider never confirmed the submission and Reelay could not find it there; "
        "it was not resent, to avoid a duplicate job. Please try again."
    )
    return _fail(s, now, "submit_unconfirmed", message, attempt=LOST)


def _running(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    values = {
        "poll_count": s.poll_count + 1,
        "error_streak": 0,
        "next_poll_at": _at(s, now, next_poll_delay(o.progress, o.poll_after)),
    }
    if o.progress is not None:
        values["progress"] = max(0, min(o.progress, 99))
    if o.expires_at:
        values["expires_at"] = o.expires_at
    if s.last_error:
        values.update(error_code=None, error_message=None)
    return Transition(values=values)


def _succeeded(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    return _completed(s, o, now, o.note or "Completed and archived.")


def _archive_failed(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    tries = s.error_streak + 1
    if tries >= MAX_ARCHIVE_TRIES:
        return _fail(
            s,
            now,
            o.code or "invalid_content",
            f"The provider finished, but its result could not be kept: {o.message}",
        )
    delay = backoff_delay(tries, o.retry_after, base=p.retry_base)
    values = {"error_streak": tries, "next_poll_at": _at(s, now, delay)}
    return Transition(
        values=values,
        event=("retry", f"Archiving failed ({o.message}); retrying in {int(delay)}s."),
    )


def _content_gone(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    message = o.message or "The provider's copy expired before Reelay could archive it."
    return _fail(s, now, "content_expired", message)


def _generation_failed(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    message = o.message or "The provider could not generate this video."
    return _fail(s, now, o.code or "generation_failed", message)


def _cancelled_upstream(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    return _fail(s, now, "cancelled_upstream", o.message or "The provider cancelled this job.")


def _poll_error(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    streak = s.error_streak + 1
    delay = backoff_delay(streak, o.retry_after, base=p.retry_base)
    values = {"error_streak": streak, "next_poll_at": _at(s, now, delay)}
    event = None
    if streak == 1 or streak % 5 == 0:
        event = ("retry", f"Could not check the job ({o.message}); retrying in {int(delay)}s.")
    return Transition(values=values, event=event)


def _unknown_job(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    if s.error_streak + 1 >= MAX_NOT_FOUND:
        return _fail(s, now, "upstream_not_found", "The provider no longer knows this job.")
    return _poll_error(s, Outcome(Kind.POLL_ERROR, message="the provider does not know it"), now, p)


def _deadline(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    if s.status == st.PROCESSING and s.has_external:
        return _fail(
            s,
            now,
            "timeout",
            "Timed out: the job did not finish before the deadline; Reelay asked the provider "
            "to stop it.",
            values={"pending_action": CANCEL, "next_poll_at": now},
            then=Action.STOP,
        )
    if s.unresolved:
        return _fail(
            s,
            now,
            "submit_unconfirmed",
            "The provider never confirmed the submission before the deadline; it was not "
            "resent, to avoid a duplicate job.",
            attempt=LOST,
        )
    last = f" Last error: {s.last_error}" if s.last_error else ""
    return _fail(s, now, "submit_timeout", f"Could not be submitted before the deadline.{last}")


def _provider_gone(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    attempt = LOST if s.unresolved else None
    return _fail(
        s, now, "provider_removed", "The provider of this task was removed.", attempt=attempt
    )


def _stop_result(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    """Only reached when a stop ran on an active task: nothing to change."""
    return Transition(event=("info", o.note) if o.note else None)


_HANDLERS = {
    Kind.ACCEPTED: _accepted,
    Kind.REFUSED: _refused,
    Kind.REJECTED: _rejected,
    Kind.UNCONFIRMED: _unconfirmed,
    Kind.NOT_FOUND_YET: _not_found_yet,
    Kind.UNRESOLVABLE: _unresolvable,
    Kind.RUNNING: _running,
    Kind.SUCCEEDED: _succeeded,
    Kind.ARCHIVE_FAILED: _archive_failed,
    Kind.CONTENT_GONE: _content_gone,
    Kind.GENERATION_FAILED: _generation_failed,
    Kind.CANCELLED_UPSTREAM: _cancelled_upstream,
    Kind.POLL_ERROR: _poll_error,
    Kind.UNKNOWN_JOB: _unknown_job,
    Kind.STOPPED: _stop_result,
    Kind.STOP_ERROR: _stop_result,
    Kind.STOP_IMPOSSIBLE: _stop_result,
    Kind.DEADLINE: _deadline,
    Kind.PROVIDER_GONE: _provider_gone,
}


# ---- a cancelled (or finished) task: only stopping the job is left -------------------


def _after_cancel(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    k = o.kind
    if k is Kind.ACCEPTED:
        if s.has_external:
            return Transition()
        values = {"external_task_id": o.external_id, "submitted_at": now}
        return _stop_now(
            s,
            o,
            now,
            f"The provider accepted the job ({o.external_id}) after the task was cancelled; "
            "asking it to stop.",
            values,
        )
    if k in (Kind.REFUSED, Kind.REJECTED):
        return _clear(s, "Cancelled before it reached the provider.")
    if k is Kind.UNCONFIRMED:
        values = {"error_streak": 0, "next_poll_at": now + timedelta(seconds=p.reconcile_delays[0])}
        return Transition(values=values)
    if k is Kind.NOT_FOUND_YET:
        looks = s.error_streak + 1
        if looks >= len(p.reconcile_delays):
            return _clear(s, "Could not find the job at the provider to stop it.", attempt=LOST)
        delay = o.retry_after or p.reconcile_delays[looks]
        return Transition(
            values={"error_streak": looks, "next_poll_at": now + timedelta(seconds=delay)}
        )
    if k in (Kind.UNRESOLVABLE, Kind.PROVIDER_GONE):
        return _clear(
            s,
            o.note or "Could not find the job at the provider to stop it.",
            attempt=LOST if s.unresolved else None,
        )
    if k is Kind.STOPPED:
        return _clear(s, o.note or "Cancelled at the provider too.")
    if k is Kind.STOP_IMPOSSIBLE:
        return _clear(
            s, o.note or "This provider cannot stop a running job; Reelay stopped tracking it."
        )
    if k is Kind.STOP_ERROR:
        tries = s.error_streak + 1
        if tries >= MAX_STOP_TRIES:
            return _clear(s, f"Gave up telling the provider to stop the job ({o.message}).")
        delay = backoff_delay(tries, o.retry_after, base=p.retry_base)
        event = None
        if tries == 1:
            event = (
                "retry",
                f"Could not tell the provider to stop the job ({o.message}); retrying.",
            )
        return Transition(
            values={"error_streak": tries, "next_poll_at": now + timedelta(seconds=delay)},
            event=event,
        )
    if s.pending != CANCEL:
        return Transition()  # old news about a task that has ended: nothing to do
    # A poll that raced the cancel: its news no longer matters; go and stop the job.
    return Transition(values={"next_poll_at": now}, then=Action.STOP)


def _clear(s: TaskState, message: str | None, attempt: str | None = None) -> Transition:
    values = {"pending_action": None, "error_streak": 0, "next_poll_at": None}
    return Transition(values=values, event=("info", message) if message else None, attempt=attempt)


# ---- refresh of a completed task -----------------------------------------------------


def _refresh(s: TaskState, o: Outcome, now: datetime, p: Policy) -> Transition:
    k = o.kind
    stamp = {"refreshed_at": now.isoformat()}
    if k is Kind.SUCCEEDED:
        values = {"pending_action": None, "error_streak": 0, "next_poll_at": None}
        renewed = bool(o.archived)
        if renewed:
            values.update(archive=o.archived, archived_at=now, error_code=None, error_message=None)
        if o.expires_at:
            values["expires_at"] = o.expires_at
        message = "Link refreshed" + (" and the result re-archived." if renewed else ".")
        return Transition(
            values=values, event=("archive", message), data={**stamp, "refresh_error": None}
        )
    if k is Kind.RUNNING:
        return _refresh_failed(s, now, "the provider says the job is still running")
    if k in (Kind.POLL_ERROR, Kind.ARCHIVE_FAILED):
        if s.error_streak + 1 < MAX_REFRESH_ERRORS:
            delay = backoff_delay(s.error_streak + 1, o.retry_after, base=p.retry_base)
            return Transition(
                values={
                    "error_streak": s.error_streak + 1,
                    "next_poll_at": now + timedelta(seconds=delay),
                }
            )
        return _refresh_failed(s, now, o.message or "the provider could not be reached")
    if k in (Kind.UNKNOWN_JOB, Kind.CONTENT_GONE):
        return _refresh_failed(
            s, now, "the provider no longer has this job; the archived copy is kept"
        )
    return _refresh_failed(s, now, o.message or "the provider did not confirm the result")


def _refresh_failed(s: TaskState, now: datetime, reason: str) -> Transition:
    values = {"pending_action": None, "error_streak": 0, "next_poll_at": None}
    return Transition(
        values=values,
        event=("info", f"Refresh failed: {reason}."),
        data={"refreshed_at": now.isoformat(), "refresh_error": reason},
    )
