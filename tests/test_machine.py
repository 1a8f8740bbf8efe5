"""The pure state machine, over every state × outcome, and the reconcile matching rule."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from webapp.domain import machine as m
from webapp.domain import statuses as st
from webapp.domain.machine import Action, Kind, Outcome, TaskState, decide, next_action
from webapp.domain.reconcile import AttemptKey, JobKey, choose, echo_of, matches, strays

NOW = datetime(2026, 12, 1, 12, 0, 0)
CREATED = NOW - timedelta(minutes=10)
SOON = NOW + timedelta(minutes=30)
PAST = NOW - timedelta(seconds=1)

STATUSES = st.ALL
PENDING = (None, m.CANCEL, m.REFRESH)
ATTEMPTS = (None, m.SENDING, m.UNKNOWN, m.ACCEPTED, m.REFUSED, m.LOST)
DEADLINES = (SOON, PAST)
OUTCOMES = [
    Outcome(Kind.ACCEPTED, external_id="job-1", progress=10, handles={"h": 1}),
    Outcome(Kind.ACCEPTED, external_id="job-1", archived={"image": {"key": "k"}}),
    Outcome(Kind.REFUSED, code="upstream_unavailable", message="down", retry_after=3),
    Outcome(Kind.REJECTED, code="upstream_rejected", message="bad size"),
    Outcome(Kind.UNCONFIRMED, code="upstream_ambiguous", message="no answer"),
    Outcome(Kind.NOT_FOUND_YET),
    Outcome(Kind.UNRESOLVABLE, message="cannot list"),
    Outcome(Kind.RUNNING, progress=55, poll_after=2),
    Outcome(Kind.SUCCEEDED, archived={"video": {"key": "k"}}, cost=0.5),
    Outcome(Kind.ARCHIVE_FAILED, message="not a video"),
    Outcome(Kind.CONTENT_GONE),
    Outcome(Kind.GENERATION_FAILED, code="moderation_blocked", message="blocked"),
    Outcome(Kind.CANCELLED_UPSTREAM),
    Outcome(Kind.POLL_ERROR, message="502", retry_after=None),
    Outcome(Kind.UNKNOWN_JOB),
    Outcome(Kind.STOPPED, note="Cancelled at the provider too."),
    Outcome(Kind.STOP_ERROR, message="503"),
    Outcome(Kind.STOP_IMPOSSIBLE),
    Outcome(Kind.DEADLINE),
    Outcome(Kind.PROVIDER_GONE),
]


def states():
    for status, pending, attempt, deadline, external, streak in itertools.product(
        STATUSES, PENDING, ATTEMPTS, DEADLINES, (False, True), (0, 2, 7)
    ):
        if pending == m.REFRESH and (status != st.COMPLETED or not external):
            continue  # refresh is only ever asked of a completed task with a job
        if pending == m.CANCEL and status != st.CANCELLED and status in st.ACTIVE:
            continue  # cancel sets the status first
        if status == st.PROCESSING and not external:
            continue  # PROCESSING means "has an upstream id"…
        if status == st.QUEUED and external:
            continue  # …and QUEUED that it has none yet
        yield TaskState(
            status=status,
            created_at=CREATED,
            deadline_at=deadline,
            pending=pending,
            has_external=external,
            attempt=attempt,
            error_streak=streak,
            progress=40,
            poll_count=3,
            seconds=8,
            price_per_second=0.1,
            last_error="earlier error" if streak else None,
        )


ALL_STATES = list(states())


def test_the_product_is_covered():
    assert len(ALL_STATES) * len(OUTCOMES) > 5000


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda o: o.kind.value)
def test_invariants_hold_for_every_state(outcome):
    for s in ALL_STATES:
        t = decide(s, outcome, NOW)
        new = t.status
        where = f"{s} / {outcome.kind}"
        # Terminal statuses never change.
        if s.status in st.TERMINAL:
            assert new in (None, s.status), where
        # Reaching an end records when.
        if new in st.TERMINAL and new != s.status:
            assert t.values.get("completed_at") == NOW, where
            assert t.event and t.event[0] == "status", where
        # A job Reelay learns about is never forgotten.
        if outcome.kind is Kind.ACCEPTED and not s.has_external:
            assert t.values.get("external_task_id") == "job-1", where
        # Nothing is ever looked at again after the deadline on an active task.
        nxt = t.values.get("next_poll_at")
        if s.status in st.ACTIVE and (new is None or new in st.ACTIVE) and nxt is not None:
            assert nxt <= s.deadline_at or nxt <= NOW, where
        # A cancelled task never comes back to life.
        if s.status == st.CANCELLED or s.pending == m.CANCEL:
            assert new in (None, st.CANCELLED), where
        # A known job that nobody wants any more gets stopped.
        if new == st.FAILED and outcome.kind in (Kind.DEADLINE,) and s.has_external:
            assert t.values.get("pending_action") == m.CANCEL and t.then is Action.STOP, where


def test_next_action_for_every_state():
    for s in ALL_STATES:
        a = next_action(s, NOW)
        if s.pending == m.CANCEL:
            expected = (
                Action.RECONCILE
                if s.unresolved
                else (Action.STOP if s.has_external else Action.CLEAR)
            )
        elif s.status in st.TERMINAL:
            expected = (
                (Action.REFRESH if s.has_external else Action.CLEAR)
                if s.pending == m.REFRESH
                else Action.NONE
            )
        elif s.deadline_at <= NOW:
            expected = Action.EXPIRE
        elif s.status == st.QUEUED:
            expected = Action.RECONCILE if s.unresolved else Action.SUBMIT
        else:
            expected = Action.POLL
        assert a is expected, s


def queued(**kw) -> TaskState:
    base = dict(status=st.QUEUED, created_at=CREATED, deadline_at=SOON, seconds=8)
    return TaskState(**{**base, **kw})


def test_accepted_moves_to_processing_with_the_upstream_id():
    t = decide(queued(attempt=m.SENDING), Outcome(Kind.ACCEPTED, external_id="j", progress=5), NOW)
    assert t.status == st.PROCESSING and t.values["external_task_id"] == "j"
    assert t.values["next_poll_at"] == NOW + timedelta(seconds=5)


def test_accepted_after_a_cancel_stops_the_job_at_once():
    s = queued(status=st.CANCELLED, pending=m.CANCEL, attempt=m.SENDING)
    t = decide(s, Outcome(Kind.ACCEPTED, external_id="j"), NOW)
    assert t.status is None and t.values["external_task_id"] == "j"
    assert t.values["pending_action"] == m.CANCEL and t.then is Action.STOP


def test_accepted_after_the_deadline_fails_and_stops_the_job():
    t = decide(queued(deadline_at=PAST), Outcome(Kind.ACCEPTED, external_id="j"), NOW)
    assert t.status == st.FAILED and t.values["error_code"] == "timeout"
    assert t.values["external_task_id"] == "j" and t.then is Action.STOP


def test_refused_backs_off_but_never_past_the_deadline():
    s = queued(
        deadline_at=NOW + timedelta(seconds=10),
        error_streak=6,
        created_at=NOW - timedelta(minutes=1),
    )
    t = decide(s, Outcome(Kind.REFUSED, message="down"), NOW)
    assert t.status is None and t.values["next_poll_at"] == s.deadline_at
    assert t.values["error_streak"] == 7


def test_unconfirmed_then_three_fruitless_looks_fail_clearly():
    s = queued(attempt=m.UNKNOWN)
    t = decide(s, Outcome(Kind.UNCONFIRMED), NOW)
    assert t.status is None and t.values["error_code"] == "upstream_ambiguous"
    for looks in range(len(m.RECONCILE_DELAYS) - 1):
        t = decide(queued(attempt=m.UNKNOWN, error_streak=looks), Outcome(Kind.NOT_FOUND_YET), NOW)
        assert t.status is None
    t = decide(
        queued(attempt=m.UNKNOWN, error_streak=len(m.RECONCILE_DELAYS) - 1),
        Outcome(Kind.NOT_FOUND_YET),
        NOW,
    )
    assert t.status == st.FAILED and t.values["error_code"] == "submit_unconfirmed"
    assert t.attempt == m.LOST and "not resent" in t.values["error_message"]


def test_deadline_on_an_unconfirmed_create_gives_the_attempt_up():
    t = decide(queued(attempt=m.UNKNOWN, deadline_at=PAST), Outcome(Kind.DEADLINE), NOW)
    assert t.status == st.FAILED and t.values["error_code"] == "submit_unconfirmed"
    assert t.attempt == m.LOST


def test_archive_failures_retry_then_fail_plainly():
    s = TaskState(status=st.PROCESSING, created_at=CREATED, deadline_at=SOON, has_external=True)
    t = decide(s, Outcome(Kind.ARCHIVE_FAILED, message="the file is only 14 bytes"), NOW)
    assert t.status is None and t.values["error_streak"] == 1
    last = TaskState(**{**s.__dict__, "error_streak": m.MAX_ARCHIVE_TRIES - 1})
    t = decide(last, Outcome(Kind.ARCHIVE_FAILED, message="the file is only 14 bytes"), NOW)
    assert t.status == st.FAILED and "14 bytes" in t.values["error_message"]


def test_succeeded_completes_with_cost():
    s = TaskState(
        status=st.PROCESSING, created_at=CREATED, has_external=True, seconds=8, price_per_second=0.1
    )
    t = decide(s, Outcome(Kind.SUCCEEDED, archived={"video": {"key": "k"}}), NOW)
    assert t.status == st.COMPLETED and t.values["cost"] == 0.8
    t = decide(s, Outcome(Kind.SUCCEEDED, archived={"video": {"key": "k"}}, cost=0.33), NOW)
    assert t.values["cost"] == 0.33  # the provider's own figure wins


def test_refresh_never_reopens_and_says_when_it_failed():
    s = TaskState(status=st.COMPLETED, created_at=CREATED, pending=m.REFRESH, has_external=True)
    t = decide(s, Outcome(Kind.UNKNOWN_JOB), NOW)
    assert t.status is None and t.values["pending_action"] is None
    assert "Refresh failed" in t.event[1] and t.data["refresh_error"]
    t = decide(s, Outcome(Kind.SUCCEEDED, archived={"video": {"key": "new"}}), NOW)
    assert t.values["archive"] == {"video": {"key": "new"}} and t.data["refresh_error"] is None


def test_stop_errors_retry_then_give_up():
    s = TaskState(status=st.CANCELLED, created_at=CREATED, pending=m.CANCEL, has_external=True)
    t = decide(s, Outcome(Kind.STOP_ERROR, message="503"), NOW)
    assert t.values.get("pending_action", m.CANCEL) == m.CANCEL  # still asking
    assert t.values["error_streak"] == 1
    last = TaskState(**{**s.__dict__, "error_streak": m.MAX_STOP_TRIES - 1})
    t = decide(last, Outcome(Kind.STOP_ERROR, message="503"), NOW)
    assert t.values["pending_action"] is None and "Gave up" in t.event[1]


def test_a_poll_racing_a_cancel_goes_on_to_stop_the_job():
    s = TaskState(status=st.CANCELLED, created_at=CREATED, pending=m.CANCEL, has_external=True)
    t = decide(s, Outcome(Kind.RUNNING, progress=80), NOW)
    assert t.status is None and t.then is Action.STOP


# ---- reconcile ------------------------------------------------------------------------

T0 = datetime(2026, 12, 1, 9, 0, 0)


def attempt(i, prompt="a red fox", started=T0, **kw) -> AttemptKey:
    return AttemptKey(
        i,
        echo_of(kw.get("model", "sora-2"), prompt, "1280x720", 8),
        started,
        started + timedelta(seconds=35),
    )


def job(jid, prompt="a red fox", at=T0 + timedelta(seconds=3), **kw) -> JobKey:
    return JobKey(
        jid, at, echo_of(kw.get("model", "sora-2"), prompt, kw.get("size"), kw.get("seconds"))
    )


def test_match_needs_the_prompt_and_the_window():
    mine = attempt(1)
    assert matches(mine, job("a"))
    assert not matches(mine, job("b", prompt="something else"))
    assert not matches(mine, job("c", at=T0 + timedelta(minutes=10)))
    assert not matches(mine, JobKey("d", T0, echo_of("sora-2", None)))  # no echoed prompt
    assert not matches(mine, job("e", model="veo-3"))
    assert matches(mine, job("f", size="1280x720", seconds=8))
    assert not matches(mine, job("g", seconds=4))


def test_choose_adopts_only_a_job_nothing_else_explains():
    mine = attempt(1)
    assert choose(mine, [job("a")], [], set()).job.external_id == "a"
    assert choose(mine, [job("a")], [], {"a"}).reason == "none"  # known: someone's already
    assert choose(mine, [job("a"), job("b")], [], set()).reason == "several"
    # another user's attempt with the same prompt, also unresolved: adopt neither
    assert (
        choose(mine, [job("a")], [attempt(2, started=T0 + timedelta(seconds=1))], set()).reason
        == "shared"
    )
    # …but one far away in time cannot have made it
    far = attempt(3, started=T0 - timedelta(hours=1))
    assert choose(mine, [job("a")], [mine, far], set()).reason == "unique"


def test_strays_are_only_jobs_given_up_attempts_explain():
    lost_a, lost_b = attempt(1), attempt(2, started=T0 + timedelta(seconds=2))
    still_open = attempt(3, prompt="a blue whale")
    jobs = [job("j1"), job("j2"), job("w", prompt="a blue whale")]
    pairs = strays([lost_a, lost_b], jobs, [still_open], set())
    assert sorted((a.id, j.external_id) for a, j in pairs) == [(1, "j1"), (2, "j2")]
    # a job an open attempt could still claim is left alone
    assert strays([lost_a], [job("j1")], [attempt(4)], set()) == []


def test_an_answer_only_the_attempt_recorded_is_looked_up_never_resent():
    """The old holder's late answer lands on the attempt (accepted, with the job's id)
    after it lost the task; the task does not track the job yet. Submitting again would
    make a second job: the next step must look instead."""
    s = queued(attempt=m.ACCEPTED, has_external=False)
    assert s.unresolved and next_action(s, NOW) is Action.RECONCILE
    tracked = queued(attempt=m.ACCEPTED, has_external=True)
    assert not tracked.unresolved
    cancelled = queued(attempt=m.ACCEPTED, has_external=False, pending=m.CANCEL)
    assert next_action(cancelled, NOW) is Action.RECONCILE  # found, then stopped
