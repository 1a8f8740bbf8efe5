"""Each provider's request-rate limit, held for every process and host together.

A token bucket per provider in the database (``provider_buckets``), not Redis: every
Reelay process already shares the database, so the limit holds with no extra service
and on SQLite alike. Taking a token is one conditional UPDATE that refills and spends
in the same statement, so two processes can never both spend the last token. The
bucket holds at most one token, so requests are spread evenly: in any T seconds a
provider sees at most ``1 + max_rps × T`` requests from all of Reelay. Within a
process, one thread per provider waits on the database at a time; the others queue
behind a local lock instead of hammering the row. A 429 from the provider is still
obeyed on top of this (the lifecycle backs off).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import ProviderBucket

CAPACITY = 1.0
MAX_WAIT = 1.0  # sleep at most this long before looking again

_locks: dict[int | None, threading.Lock] = {}
_guard = threading.Lock()


def _local(provider_id) -> threading.Lock:
    with _guard:
        return _locks.setdefault(provider_id, threading.Lock())


def acquire(provider_id: int | None, rate: float) -> None:
    """Block until one request to this provider is allowed."""
    if provider_id is None:
        return
    rate = max(float(rate or 0), 0.1)
    with _local(provider_id):
        while True:
            wait = _take(provider_id, rate)
            if wait <= 0:
                return
            time.sleep(min(wait, MAX_WAIT))


def _take(provider_id: int, rate: float) -> float:
    """Spend a token: 0 when taken, else how long until one is due."""
    now = time.time()
    b = ProviderBucket
    elapsed = case((b.stamp < now, now - b.stamp), else_=0.0)
    refilled = b.tokens + elapsed * rate
    level = case((refilled > CAPACITY, CAPACITY), else_=refilled)
    with db.engine.begin() as conn:
        taken = conn.execute(
            update(b)
            .where(b.provider_id == provider_id, level >= 1.0)
            .values(tokens=level - 1.0, stamp=case((b.stamp < now, now), else_=b.stamp))
        ).rowcount
        if taken:
            return 0.0
        row = conn.execute(select(b.tokens, b.stamp).where(b.provider_id == provider_id)).first()
    if row is None:
        try:
            with db.engine.begin() as conn:
                conn.execute(
                    ProviderBucket.__table__.insert().values(
                        provider_id=provider_id, tokens=CAPACITY - 1.0, stamp=now
                    )
                )
            return 0.0
        except IntegrityError:
            # Another process made it first (take from it), or the provider is gone.
            with db.engine.connect() as conn:
                made = conn.execute(select(b.provider_id).where(b.provider_id == provider_id))
                return 0.0001 if made.first() else 0.0
    tokens, stamp = row
    have = min(CAPACITY, tokens + max(0.0, now - stamp) * rate)
    return max((1.0 - have) / rate, 0.001)


def reset() -> None:
    """Forget the local locks (tests); the shared buckets refill on their own."""
    with _guard:
        _locks.clear()
