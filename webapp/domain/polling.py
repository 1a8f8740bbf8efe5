"""When to look at a task next."""

from __future__ import annotations

import random

MIN_HINT = 1.0
MAX_HINT = 60.0
MAX_BACKOFF = 300.0


def next_poll_delay(progress: int | None, hint: float | None = None) -> float:
    """Under 30 % every 5 s, 30–70 % every 10 s, over 70 % every 15 s; the upstream's
    own hint wins when it gives one (clamped so a bad hint cannot stall or flood)."""
    if hint is not None and hint > 0:
        return min(max(hint, MIN_HINT), MAX_HINT)
    p = progress or 0
    if p < 30:
        return 5.0
    if p <= 70:
        return 10.0
    return 15.0


def backoff_delay(
    streak: int, retry_after: float | None = None, base: float = 5.0, cap: float = MAX_BACKOFF
) -> float:
    """Exponential backoff with jitter, at most ``cap``; a Retry-After from the upstream
    is obeyed."""
    if retry_after is not None and retry_after > 0:
        return min(retry_after, 3600.0)
    delay = min(base * (2 ** max(streak - 1, 0)), cap)
    return delay * random.uniform(0.8, 1.2)
