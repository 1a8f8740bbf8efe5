"""Each provider's request-rate limit, held for every process and host together.

A token bucket per provider in the database (``provider_buckets``), not Redis: every
Reelay process already shares the database, so the limit holds with no extra service
and on SQLite alike. Taking a token is one conditional UPDATE that refills and spends
in the same statement, so two processes can never both spend the last token. The
bucket holds a tenth of a second's worth of the rate (at least one token), so in any T
seconds a provider sees at most ``max(1, max_rps / 10) + max_rps × T`` requests from
all of Reelay. A process takes a block of tokens per round trip (spent within that
tenth of a second or dropped), so a fast provider costs a few writes a second, not one
per request. Within a process, one thread per provider talks to the database at a
time; the others queue behind a local lock instead of hammering the row. A 429 from
the provider is still obeyed on top of this (the lifecycle backs off).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import ProviderBucket

WINDOW = 0.1  # seconds: the bucket holds this much of the rate (at least one request)
MAX_WAIT = 1.0  # sleep at most this long before looking again

_locks: dict[int | None, threading.Lock] = {}
_guard = threading.Lock()
# Tokens this process took from the shared bucket in one round trip and has not spent:
# provider id -> [count, spend before (monotonic)]. Unspent ones lapse after WINDOW.
_held: dict[int, list] = {}


def _local(provider_id) -> threading.Lock:
    with _guard:
        return _locks.setdefault(provider_id, threading.Lock())


def capacity(rate: float) -> float:
    return max(1.0, rate * WINDOW)


def acquire(provider_id: int | None, rate: float) -> None:
    """Block until one request to this provider is allowed."""
    if provider_id is None:
        return
    rate = max(float(rate or 0), 0.1)
    with _local(provider_id):
        held = _held.get(provider_id)
        if held and held[0] > 0 and time.monotonic() < held[1]:
            held[0] -= 1
            return
        while True:
            got, wait = _take(provider_id, rate)
            if got:
                _held[provider_id] = [got - 1, time.monotonic() + WINDOW]
                return
            time.sleep(min(wait, MAX_WAIT))


def _take(provider_id: int, rate: float) -> tuple[int, float]:
    """Take a block of tokens (as many as the bucket holds, up to its capacity) in one
    statement: (tokens taken, 0) or (0, how long until one is due)."""
    cap = capacity(rate)
    block = max(1, int(cap))
    now = time.time()
    b = ProviderBucket
    elapsed = case((b.stamp < now, now - b.stamp), else_=0.0)
    refilled = b.tokens + elapsed * rate
    level = case((refilled > cap, cap), else_=refilled)
    stamp = case((b.stamp < now, now), else_=b.stamp)
    with db.engine.begin() as conn:
        for want in dict.fromkeys((block, 1)):  # a whole block if it is there, else one
            taken = conn.execute(
                update(b)
                .where(b.provider_id == provider_id, level >= float(want))
                .values(tokens=level - float(want), stamp=stamp)
            ).rowcount
            if taken:
                return want, 0.0
        row = conn.execute(select(b.tokens, b.stamp).where(b.provider_id == provider_id)).first()
    if row is None:
        try:
            with db.engine.begin() as conn:
                conn.execute(
                    ProviderBucket.__table__.insert().values(
                        provider_id=provider_id, tokens=cap - 1.0, stamp=now
                    )
                )
            return 1, 0.0
        except IntegrityError:
            # Another process made it first (take from it), or the provider is gone.
            with db.engine.connect() as conn:
                made = conn.execute(select(b.provider_id).where(b.provider_id == provider_id))
                return (0, 0.0001) if made.first() else (1, 0.0)
    tokens, last = row
    have = min(cap, tokens + max(0.0, now - last) * rate)
    return 0, max((1.0 - have) / rate, 0.001)


def reset() -> None:
    """Forget the local locks and held tokens (tests); the shared buckets refill alone."""
    with _guard:
        _locks.clear()
        _held.clear()
