"""A provider's circuit breaker and latency histograms, as pure decisions.

Closed: requests flow; consecutive failures are counted. ``threshold`` failures in a
row open it for a cool-down (doubling each time it re-opens, capped). After the
cool-down the next create may go as a *probe* (half-open, claimed by one process at a
time): its success closes the circuit, its failure opens it again. Only the provider's
own trouble counts as failure (unreachable, timeouts, 5xx, 429, refused key), never a
4xx about the request.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

THRESHOLD = 5
BASE_COOLDOWN = 30.0
MAX_COOLDOWN = 600.0
PROBE_SECONDS = 120.0  # a probe's claim runs out (its holder may have died)


@dataclass(frozen=True)
class Breaker:
    state: str = CLOSED
    failures: int = 0  # consecutive
    opened_until: datetime | None = None
    cooldown: float = 0.0  # the last cool-down, doubled on each re-open
    probe_until: datetime | None = None


def failed(b: Breaker, now: datetime, threshold: int = THRESHOLD) -> Breaker:
    failures = b.failures + 1
    if b.state == HALF_OPEN or (b.state == CLOSED and failures >= threshold):
        cooldown = (
            min(max(b.cooldown * 2, BASE_COOLDOWN), MAX_COOLDOWN)
            if b.state == HALF_OPEN
            else BASE_COOLDOWN
        )
        return Breaker(OPEN, failures, now + timedelta(seconds=cooldown), cooldown, None)
    return replace(b, failures=failures)


def succeeded(b: Breaker, probe: bool) -> Breaker:
    """A success closes a half-open circuit only when it was the probe; in a closed one
    it ends the failure streak."""
    if b.state == CLOSED or probe:
        return Breaker()
    return b


def admits(b: Breaker, now: datetime) -> str:
    """'yes', 'probe' (the caller may claim the probe), or 'no'."""
    if b.state == CLOSED:
        return "yes"
    if b.state == OPEN and b.opened_until is not None and now < b.opened_until:
        return "no"
    if b.state == HALF_OPEN and b.probe_until is not None and now < b.probe_until:
        return "no"
    return "probe"


def probing(b: Breaker, now: datetime) -> Breaker:
    return replace(b, state=HALF_OPEN, probe_until=now + timedelta(seconds=PROBE_SECONDS))


# ---- latency histograms ---------------------------------------------------------------

# Bucket upper bounds in milliseconds; the last bucket is everything slower.
BOUNDS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)


def bucket(ms: float) -> int:
    return bisect_left(BOUNDS_MS, ms)


def empty() -> list[int]:
    return [0] * (len(BOUNDS_MS) + 1)


def merge(a: list[int], b: list[int]) -> list[int]:
    size = len(BOUNDS_MS) + 1
    a = list(a or []) + [0] * size
    b = list(b or []) + [0] * size
    return [a[i] + b[i] for i in range(size)]


def percentile(counts: list[int], q: float) -> float | None:
    """The q-quantile (0..1) in ms, linearly interpolated inside its bucket; None with no
    samples. Accurate to the bucket: enough to tell 80 ms from 2 s."""
    total = sum(counts or [])
    if not total:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            low = BOUNDS_MS[i - 1] if i > 0 else 0
            high = BOUNDS_MS[i] if i < len(BOUNDS_MS) else BOUNDS_MS[-1] * 2
            return low + (high - low) * max(0.0, min(1.0, (rank - seen) / n))
        seen += n
    return float(BOUNDS_MS[-1] * 2)
