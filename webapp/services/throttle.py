"""Per-provider request-rate limit (token bucket) shared by this process's threads.

Each process limits itself; with N poller processes the upstream sees at most
N × max_rps. Good enough to keep a gateway's rate limiter happy; a 429 is still obeyed.
"""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_buckets: dict[int | None, list[float]] = {}  # id -> [tokens, last_refill]


def acquire(provider_id: int | None, rate: float) -> None:
    """Block until one request to this provider is allowed."""
    rate = max(rate, 0.1)
    while True:
        with _lock:
            now = time.monotonic()
            tokens, last = _buckets.get(provider_id, [rate, now])
            tokens = min(rate, tokens + (now - last) * rate)
            if tokens >= 1:
                _buckets[provider_id] = [tokens - 1, now]
                return
            _buckets[provider_id] = [tokens, now]
            wait = (1 - tokens) / rate
        time.sleep(min(wait, 1.0))


def reset() -> None:
    with _lock:
        _buckets.clear()
