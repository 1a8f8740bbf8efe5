"""Who may sign up: the policy (open, approval, invite, closed), invites, approvals.

The policy comes from the admin page when an admin has set it, else ``REELAY_SIGNUP``,
else ``approval``. The very first account becomes the admin, exactly once however many
sign up at the same moment (see ``accounts.register``).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, exists, select, update

from ..config import SIGNUP_POLICIES
from ..extensions import db
from ..models import OneTimeLink, SiteSetting, User
from ..models.base import utcnow
from ..models.users import ROLE_ADMIN

DEFAULT_POLICY = "approval"
POLICY_KEY = "signup_policy"
FIRST_ADMIN_KEY = "first_admin"
INVITE = "invite"

DESCRIPTIONS = {
    "open": "Anyone who can reach this site can create an account.",
    "approval": "Anyone can sign up; an admin approves each new account before it can be used.",
    "invite": "Only people with an invite link from an admin can sign up.",
    "closed": "Nobody can sign up; an admin creates accounts.",
}


def policy() -> str:
    row = db.session.get(SiteSetting, POLICY_KEY)
    if row is not None and row.value in SIGNUP_POLICIES:
        return row.value
    return current_app.config.get("SIGNUP_POLICY") or DEFAULT_POLICY


def policy_source() -> str:
    if db.session.get(SiteSetting, POLICY_KEY) is not None:
        return "set on the admin page"
    if current_app.config.get("SIGNUP_POLICY"):
        return "from REELAY_SIGNUP"
    return "the default"


def set_policy(value: str) -> None:
    if value not in SIGNUP_POLICIES:
        raise ValueError(value)
    SiteSetting.put(POLICY_KEY, value)
    db.session.commit()


def has_admin() -> bool:
    """Once an admin exists (or ever existed first), sign-ups follow the policy."""
    return bool(
        db.session.scalar(
            select(
                exists().where(User.role == ROLE_ADMIN)
                | exists().where(SiteSetting.key == FIRST_ADMIN_KEY)
            )
        )
    )


def first_admin_marker(user_id: int) -> SiteSetting:
    """Inserted in the first admin's own transaction: its primary key lets only one
    concurrent sign-up become the first admin; the others fail and sign up as users."""
    return SiteSetting(key=FIRST_ADMIN_KEY, value=str(user_id))


# ---- invites --------------------------------------------------------------------------


def create_invite(admin: User, note: str | None = None) -> tuple[OneTimeLink, str]:
    token = secrets.token_urlsafe(32)
    row = OneTimeLink(
        purpose=INVITE,
        token_hash=OneTimeLink.hash(token),
        created_by=admin.id,
        note=(note or "").strip()[:120] or None,
        expires_at=utcnow() + timedelta(days=current_app.config["INVITE_DAYS"]),
    )
    db.session.add(row)
    db.session.commit()
    return row, token


def find_invite(token: str | None) -> OneTimeLink | None:
    """A usable invite for this token (unused, unexpired), or None."""
    if not token or len(token) > 100:
        return None
    row = db.session.scalar(
        select(OneTimeLink).where(
            OneTimeLink.token_hash == OneTimeLink.hash(token), OneTimeLink.purpose == INVITE
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def use_invite(invite_id: int, user_id: int) -> bool:
    """Mark the invite used by this user, compare-and-set (in the caller's transaction):
    two people racing with one link get one account."""
    return (
        db.session.execute(
            update(OneTimeLink)
            .where(
                OneTimeLink.id == invite_id,
                OneTimeLink.used_at.is_(None),
                OneTimeLink.expires_at > utcnow(),
            )
            .values(used_at=utcnow(), user_id=user_id)
        ).rowcount
        == 1
    )


def open_invites() -> list[OneTimeLink]:
    return list(
        db.session.scalars(
            select(OneTimeLink)
            .where(
                OneTimeLink.purpose == INVITE,
                OneTimeLink.used_at.is_(None),
                OneTimeLink.expires_at > utcnow(),
            )
            .order_by(OneTimeLink.id.desc())
        )
    )


def revoke_invite(invite_id: int) -> None:
    db.session.execute(
        delete(OneTimeLink).where(OneTimeLink.id == invite_id, OneTimeLink.purpose == INVITE)
    )
    db.session.commit()


# ---- approvals ------------------------------------------------------------------------


def pending_users() -> list[User]:
    return list(db.session.scalars(select(User).where(User.approved.is_(False)).order_by(User.id)))


def approve(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    if user is not None and not user.approved:
        user.approved = True
        db.session.commit()
    return user


def reject(user_id: int) -> bool:
    """A pending sign-up the admin does not want: the account is removed."""
    user = db.session.get(User, user_id)
    if user is None or user.approved:
        return False
    db.session.delete(user)
    db.session.commit()
    return True
