"""The pure routing, circuit-breaker and machine decisions behind failover."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as s

from webapp.domain import health as h
from webapp.domain import machine as m
from webapp.domain import routing as r
from webapp.domain import statuses as st
from webapp.domain.machine import Action, Kind, Outcome, TaskState, decide

NOW = datetime(2026, 12, 3, 12, 0, 0)


def route(*names) -> r.Route:
    return r.Route(tuple(r.Stop(i + 1, n, "sora-2") for i, n in enumerate(names)))


def queued(rt, created=NOW - timedelta(seconds=30), **kw) -> TaskState:
    return TaskState(
        status=st.QUEUED,
        created_at=created,
        deadline_at=NOW + timedelta(hours=1),
        route=rt,
        **kw,
    )


# ---- rank ------------------------------------------------------------------------------


def test_rank_puts_available_first_then_priority():
    cands = [
        r.Candidate(1, "a", "m", priority=10, available=False),
        r.Candidate(2, "b", "m", priority=50),
        r.Candidate(3, "c", "m", priority=20),
    ]
    assert [c.name for c in r.rank(cands, random.Random(1))] == ["c", "b", "a"]


def test_rank_is_weighted_within_a_priority():
    cands = [r.Candidate(1, "a", "m", weight=1), r.Candidate(2, "b", "m", weight=4)]
    rng = random.Random(7)
    first = Counter(r.rank(cands, rng)[0].name for _ in range(5000))
    assert 0.77 <= first["b"] / 5000 <= 0.83


@given(s.lists(s.tuples(s.integers(1, 3), s.floats(0, 5)), min_size=1, max_size=6), s.integers())
def test_rank_keeps_every_candidate_and_honours_priority(specs, seed):
    cands = [r.Candidate(i, f"p{i}", "m", priority=p, weight=w) for i, (p, w) in enumerate(specs)]
    ranked = r.rank(cands, random.Random(seed))
    assert sorted(c.id for c in ranked) == sorted(c.id for c in cands)
    assert [c.priority for c in ranked] == sorted(c.priority for c in ranked)
    for prio in {c.priority for c in ranked}:  # weight 0 only after every positive weight
        same = [c for c in ranked if c.priority == prio]
        zeros = [i for i, c in enumerate(same) if c.weight == 0]
        assert all(i >= len(same) - len(zeros) for i in zeros)


def test_route_survives_json():
    rt = r.Route(route("a", "b").stops, 1, {"a": ("down", False)}, 2)
    assert r.Route.from_json(rt.to_json()) == rt
    assert r.Route.from_json({"nonsense": 1}) is None


# ---- after a refusal ----------------------------------------------------------------------


def test_hop_then_retry_then_give_up():
    rt = route("a", "b")
    first = r.after_refusal(rt, "a is down.", False, window_over=False)
    assert first.next is r.Next.HOP and first.route.current.name == "b"
    second = r.after_refusal(first.route, "b is busy.", False, window_over=False)
    assert second.next is r.Next.RETRY and second.route.at == 0 and second.route.rounds == 1
    last = r.after_refusal(second.route, "a is down.", False, window_over=True)
    assert last.next is r.Next.HOP  # the round is not over yet
    end = r.after_refusal(last.route, "b is busy.", False, window_over=True)
    assert end.next is r.Next.GIVE_UP
    assert end.message == "No provider accepted the task. a: a is down; b: b is busy."


def test_every_refusal_lasting_gives_up_at_once():
    rt = route("a", "b")
    first = r.after_refusal(rt, "its API key is not set on this server", True, False)
    end = r.after_refusal(first.route, "its key was refused", True, False)
    assert end.next is r.Next.GIVE_UP


# ---- the machine --------------------------------------------------------------------------


def test_refused_hops_to_the_next_provider_at_once():
    t = decide(queued(route("a", "b")), Outcome(Kind.REFUSED, code="x", message="down."), NOW)
    assert t.then is Action.SUBMIT and t.values["provider_id"] == 2
    assert t.values["next_poll_at"] == NOW and t.status is None
    assert t.event == ("route", "a did not take it (down); sending it to b.")
    assert t.data["route"]["at"] == 1


def test_refused_after_a_full_round_backs_off_by_rounds():
    rt = r.Route(route("a", "b").stops, 1, {}, rounds=2)
    t = decide(queued(rt), Outcome(Kind.REFUSED, message="busy"), NOW)
    assert t.then is None and t.values["provider_id"] == 1
    assert t.values["error_streak"] == 3 and t.values["next_poll_at"] > NOW


def test_refused_once_the_window_closes_fails_naming_each():
    rt = r.Route(route("a", "b").stops, 1, {"a": ("down", False)})
    old = NOW - timedelta(seconds=601)
    t = decide(queued(rt, created=old), Outcome(Kind.REFUSED, message="busy"), NOW)
    assert t.status == st.FAILED and t.values["error_code"] == "no_provider_accepted"
    assert "a: down; b: busy" in t.values["error_message"]


def test_lasting_refusal_on_a_single_provider_fails_with_its_reason():
    t = decide(
        queued(route("a")),
        Outcome(Kind.REFUSED, code="upstream_auth", message="Key refused.", lasting=True),
        NOW,
    )
    assert t.status == st.FAILED and t.values["error_code"] == "upstream_auth"
    assert t.values["error_message"] == "Key refused."


def test_unconfirmed_never_hops():
    t = decide(queued(route("a", "b"), attempt=m.UNKNOWN), Outcome(Kind.UNCONFIRMED), NOW)
    assert "provider_id" not in t.values and t.then is None


# ---- the circuit breaker ------------------------------------------------------------------


def test_breaker_opens_after_threshold_probes_and_closes():
    b = h.Breaker()
    for _ in range(h.THRESHOLD - 1):
        b = h.failed(b, NOW)
    assert b.state == h.CLOSED and h.admits(b, NOW) == "yes"
    b = h.failed(b, NOW)
    assert b.state == h.OPEN and h.admits(b, NOW) == "no"
    later = NOW + timedelta(seconds=h.BASE_COOLDOWN + 1)
    assert h.admits(b, later) == "probe"
    probing = h.probing(b, later)
    assert h.admits(probing, later) == "no"  # one probe at a time
    assert h.succeeded(probing, probe=False).state == h.HALF_OPEN
    assert h.succeeded(probing, probe=True) == h.Breaker()


def test_failed_probe_reopens_for_twice_as_long():
    b = h.Breaker()
    for _ in range(h.THRESHOLD):
        b = h.failed(b, NOW)
    b = h.failed(h.probing(b, NOW), NOW)
    assert b.state == h.OPEN and b.cooldown == 2 * h.BASE_COOLDOWN


def test_percentile_is_within_its_bucket():
    counts = h.empty()
    for ms in [5] * 50 + [80] * 45 + [3000] * 5:
        counts[h.bucket(ms)] += 1
    assert 0 <= h.percentile(counts, 0.5) <= 10
    assert 50 <= h.percentile(counts, 0.9) <= 100
    assert h.percentile(h.empty(), 0.5) is None
