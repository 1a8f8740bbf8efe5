"""Back-off on failed logins for one account from one address.

Five wrong passwords are free; after that each further try must wait twice as long
(2 s, 4 s, … up to 15 minutes). The key is the account *and* the address, so someone
guessing at your account from their address slows themselves down, never you; guesses
spread over many addresses are still bounded by the per-address limit. Kept in the
database, so it holds across every worker and host.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import LoginThrottle
from ..models.base import utcnow

FREE_FAILURES = 5
MAX_WAIT_SECONDS = 900


def _key(email: str, address: str | None) -> str:
    raw = f"{(email or '').strip().lower()}|{address or '?'}"
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


def wait_seconds(email: str, address: str | None) -> int:
    """How long this account must wait before another try from this address (0: now)."""
    row = db.session.get(LoginThrottle, _key(email, address))
    db.session.commit()
    if row is None or row.blocked_until is None:
        return 0
    left = (row.blocked_until - utcnow()).total_seconds()
    return max(0, math.ceil(left))


def failed(email: str, address: str | None) -> None:
    key = _key(email, address)
    now = utcnow()
    for _ in range(3):
        row = db.session.get(LoginThrottle, key)
        if row is None:
            try:
                db.session.add(LoginThrottle(key_hash=key, failures=1, updated_at=now))
                db.session.commit()
                return
            except IntegrityError:
                db.session.rollback()
                continue
        failures = row.failures + 1
        blocked = None
        if failures >= FREE_FAILURES:
            blocked = now + timedelta(
                seconds=min(2 ** (failures - FREE_FAILURES + 1), MAX_WAIT_SECONDS)
            )
        count = db.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key_hash == key, LoginThrottle.failures == row.failures)
            .values(failures=failures, blocked_until=blocked, updated_at=now)
        ).rowcount
        db.session.commit()
        if count:
            return
        db.session.expire_all()


def succeeded(email: str, address: str | None) -> None:
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key_hash == _key(email, address)))
    db.session.commit()
