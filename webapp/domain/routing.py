"""Which provider a task goes to, and where it goes when one did not take it.

A task's *route* is fixed at create: every provider that offers its model and accepts
its shape, ranked (available ones first, then by priority, weighted at random among
equal priority). A create goes to the first stop; when that provider *definitely* did
not accept the job (refused connection, DNS failure, 5xx or 429, its key unset, its
circuit open, its key refused), the task moves to the next stop at once. After a full
round with no taker it waits and starts again from the top, until the submit window
closes (or every refusal was a lasting one): then it fails, naming each provider's
reason. An ambiguous create never moves on (the lifecycle reconciles it), and once a
provider accepts the job the task stays there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from enum import Enum


@dataclass(frozen=True)
class Candidate:
    """A provider offering the model, as routing sees it."""

    id: int
    name: str
    upstream: str  # the model's name at this provider
    priority: int = 100  # lower goes first
    weight: float = 1.0  # share of creates among equal priority; 0: only as a fallback
    available: bool = True  # circuit closed (or due a probe)


def rank(candidates: list[Candidate], rng: random.Random) -> list[Candidate]:
    """Available first, then lower priority first; within one priority a weighted random
    order, so each is first with probability weight / total (Efraimidis–Spirakis keys)."""

    def key(c: Candidate):
        draw = rng.random() ** (1.0 / c.weight) if c.weight > 0 else -1.0
        return (not c.available, c.priority, -draw, c.id)

    return sorted(candidates, key=key)


@dataclass(frozen=True)
class Stop:
    id: int
    name: str
    upstream: str


@dataclass(frozen=True)
class Route:
    """The stops of a task and where it is along them (kept in ``upstream_data``)."""

    stops: tuple[Stop, ...]
    at: int = 0
    # The latest refusal from each provider: name -> (reason, lasting).
    refusals: dict = field(default_factory=dict)
    rounds: int = 0  # full rounds without a taker

    @property
    def current(self) -> Stop | None:
        return self.stops[self.at] if 0 <= self.at < len(self.stops) else None

    def to_json(self) -> dict:
        return {
            "stops": [[s.id, s.name, s.upstream] for s in self.stops],
            "at": self.at,
            "refusals": {k: list(v) for k, v in self.refusals.items()},
            "rounds": self.rounds,
        }

    @classmethod
    def from_json(cls, data) -> Route | None:
        try:
            stops = tuple(Stop(int(i), str(n), str(u)) for i, n, u in data["stops"])
            refusals = {str(k): (str(v[0]), bool(v[1])) for k, v in data["refusals"].items()}
            return cls(stops, int(data["at"]), refusals, int(data.get("rounds", 0)))
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def of(cls, candidates: list[Candidate]) -> Route:
        return cls(tuple(Stop(c.id, c.name, c.upstream) for c in candidates))


class Next(Enum):
    HOP = "hop"  # try the next stop now
    RETRY = "retry"  # a round is over: wait, then start again from the first stop
    GIVE_UP = "give_up"  # nobody will take it: fail, naming each reason


@dataclass(frozen=True)
class Refusal:
    next: Next
    route: Route
    message: str = ""


def after_refusal(route: Route, reason: str, lasting: bool, window_over: bool) -> Refusal:
    """What follows a definite refusal by the current stop. ``lasting`` means trying
    that provider again soon will not help (its key is unset or refused)."""
    here = route.current
    refusals = {**route.refusals, here.name: (reason, lasting)} if here else route.refusals
    if route.at + 1 < len(route.stops):
        return Refusal(Next.HOP, replace(route, at=route.at + 1, refusals=refusals))
    done = replace(route, at=0, refusals=refusals, rounds=route.rounds + 1)
    names = [s.name for s in route.stops]
    every_lasting = all(refusals.get(n, ("", False))[1] for n in names)
    if window_over or every_lasting:
        return Refusal(Next.GIVE_UP, done, summary(done))
    return Refusal(Next.RETRY, done)


def summary(route: Route) -> str:
    """The failure message: the reason itself for a single provider, else one reason
    per provider in route order."""
    if len(route.stops) == 1:
        return route.refusals.get(route.stops[0].name, ("The provider refused it.",))[0]
    parts = [
        f"{s.name}: {route.refusals[s.name][0].rstrip('.')}"
        for s in route.stops
        if s.name in route.refusals
    ]
    return "No provider accepted the task. " + "; ".join(parts) + "."
