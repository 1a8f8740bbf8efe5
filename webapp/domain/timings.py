"""Generation-time histograms with fixed log-spaced buckets, and percentiles read from
them with a stated error (the stats rollups keep one per group).

Bucket 0 holds times under 1 s; bucket i (1..BUCKETS-2) holds [RATIO**(i-1), RATIO**i)
seconds; the last bucket holds everything from RATIO**(BUCKETS-2) s (about 7.2 days) up.
A bucket stands for its geometric middle, which is within sqrt(RATIO) - 1 = 4.9 % of any
time inside it. ``percentile`` interpolates between the two order statistics around the
rank exactly as PostgreSQL's ``percentile_cont`` does, so its answer is within
``RELATIVE_ERROR`` of the exact one (plus ``ABSOLUTE_ERROR`` when the samples around the
rank lie under 1 s) for times up to about 7 days.
"""

from __future__ import annotations

import math

RATIO = 1.1
BUCKETS = 142
RELATIVE_ERROR = math.sqrt(RATIO) - 1  # 0.0488
ABSOLUTE_ERROR = 0.5  # seconds, for times under 1 s
_LOG_RATIO = math.log(RATIO)


def bucket(seconds: float | None) -> int:
    """The bucket a generation time falls in; -1 for no time. The same formula runs in
    SQL (``reelay_time_bucket``) so triggers and rebuilds agree with Python."""
    if seconds is None:
        return -1
    if seconds < 1:
        return 0
    return min(BUCKETS - 1, 1 + math.floor(math.log(seconds) / _LOG_RATIO))


def middle(i: int) -> float:
    """What bucket i stands for: the geometric middle of its bounds (0.5 s for bucket 0;
    the lower bound times sqrt(RATIO) for the open last bucket)."""
    if i <= 0:
        return 0.5
    return RATIO ** (i - 0.5)


def percentile(counts: dict[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of the times counted in ``counts`` (bucket -> count), the way
    percentile_cont interpolates; None with no samples."""
    ordered = sorted((b, n) for b, n in counts.items() if b >= 0 and n > 0)
    total = sum(n for _, n in ordered)
    if not total:
        return None
    rank = q * (total - 1)
    low = math.floor(rank)
    frac = rank - low

    def nth(k: int) -> float:
        seen = 0
        for b, n in ordered:
            seen += n
            if k < seen:
                return middle(b)
        return middle(ordered[-1][0])

    a = nth(low)
    return a if frac == 0 else a + frac * (nth(low + 1) - a)
