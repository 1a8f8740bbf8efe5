"""Getting back in: one-time, expiring password-reset links (hashed at rest, single use),
issued by an admin, by ``flask users reset-password``, or sent by e-mail on request.

"Forgot password" answers the same whether or not the address has an account, and
takes the same time: the e-mail goes out from a background thread.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import timedelta

from flask import current_app, has_request_context, url_for
from sqlalchemy import select, update

from ..extensions import db
from ..models import ApiToken, OneTimeLink, User
from ..models.base import utcnow
from . import accounts, mail

log = logging.getLogger(__name__)

RESET = "reset"
SELF_SERVICE_HOURS = 1


def issue(user: User, created_by: User | None = None, hours: int | None = None) -> str:
    """A new reset link for ``user`` (earlier unused ones stop working)."""
    now = utcnow()
    db.session.execute(
        update(OneTimeLink)
        .where(
            OneTimeLink.user_id == user.id,
            OneTimeLink.purpose == RESET,
            OneTimeLink.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        OneTimeLink(
            purpose=RESET,
            token_hash=OneTimeLink.hash(token),
            user_id=user.id,
            created_by=created_by.id if created_by else None,
            expires_at=now + timedelta(hours=hours or current_app.config["RESET_HOURS"]),
        )
    )
    db.session.commit()
    return link_for(token)


def link_for(token: str) -> str:
    """Absolute: REELAY_BASE_URL when set, else this request's address (the CLI, with
    neither, uses make run's)."""
    base = current_app.config.get("BASE_URL")
    if not base and has_request_context():
        return url_for("auth.reset", token=token, _external=True)
    with current_app.test_request_context(base_url=base or "http://127.0.0.1:8000"):
        return url_for("auth.reset", token=token, _external=True)


def find(token: str | None) -> OneTimeLink | None:
    if not token or len(token) > 100:
        return None
    row = db.session.scalar(
        select(OneTimeLink).where(
            OneTimeLink.token_hash == OneTimeLink.hash(token), OneTimeLink.purpose == RESET
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def reset(token: str, new_password: str, revoke_tokens: bool) -> User:
    """Set the password from a valid link (used up, compare-and-set), end every browser
    session of the account, and revoke its API tokens when asked."""
    row = find(token)
    if row is None:
        raise accounts.AccountError(
            "password", "This reset link has expired or was already used.", "reset_invalid"
        )
    accounts.validate_password(new_password, field="new_password")
    used = db.session.execute(
        update(OneTimeLink)
        .where(OneTimeLink.id == row.id, OneTimeLink.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if used != 1:
        db.session.rollback()
        raise accounts.AccountError(
            "password", "This reset link has expired or was already used.", "reset_invalid"
        )
    user = db.session.get(User, row.user_id)
    user.password_hash = accounts.hash_password(new_password)
    accounts.end_all_sessions(user)
    if revoke_tokens:
        revoke_all_tokens(user, commit=False)
    db.session.commit()
    return user


def revoke_all_tokens(user: User, commit: bool = True) -> int:
    count = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    ).rowcount
    if commit:
        db.session.commit()
    return count


def self_service_available() -> bool:
    return bool(current_app.config.get("SMTP_URL"))


def request_link(email: str) -> None:
    """Forgot password: e-mail a link if the account exists; say nothing either way."""
    if not self_service_available():
        return
    user = db.session.scalar(select(User).where(User.email == accounts.normalize_email(email)))
    if user is None or not user.is_active:
        return
    link = issue(user, hours=SELF_SERVICE_HOURS)
    app = current_app._get_current_object()
    threading.Thread(target=_send, args=(app, user.email, link), daemon=True).start()


def _send(app, to: str, link: str) -> None:
    with app.app_context():
        body = (
            "Someone (hopefully you) asked to reset the password of your Reelay account.\n\n"
            f"Open this link within {SELF_SERVICE_HOURS} hour to choose a new password:\n\n"
            f"{link}\n\n"
            "If it was not you, ignore this message: your password stays as it is.\n"
        )
        try:
            mail.send(to, "Reset your Reelay password", body)
        except Exception:  # noqa: BLE001 - logged without the link or the address
            log.exception("could not send a password-reset e-mail")
