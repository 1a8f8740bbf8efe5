"""Accounts, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import ApiToken, SiteSetting, User, UserSession
from ..models.base import utcnow
from ..models.users import ROLE_ADMIN, ROLE_USER, SCOPE_READ, SCOPE_WRITE
from . import signup

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("reelay-timing-equaliser")

MIN_PASSWORD = 8
MAX_PASSWORD = 128


class AccountError(ValueError):
    def __init__(self, field: str, message: str, code: str):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and bool(user)
    except (VerificationError, InvalidHashError):
        return False


def validate_password(password: str, field: str = "password") -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(field, f"Use at least {MIN_PASSWORD} characters.", "password_too_short")
    if len(password) > MAX_PASSWORD:
        raise AccountError(field, f"Use at most {MAX_PASSWORD} characters.", "password_too_long")


def register(email: str, password: str, invite_token: str | None = None) -> User:
    """Create an account as the sign-up policy allows. The very first account becomes
    the admin, exactly once even when many sign up at the same moment; an account made
    under "approval" waits for an admin (``approved`` False)."""
    email = normalize_email(email)
    validate_password(password)
    password_hash = hash_password(password)
    for _ in range(2):
        if db.session.scalar(select(User.id).where(User.email == email)):
            raise AccountError("email", "An account with this email already exists.", "email_taken")
        first = not signup.has_admin()
        invite = _admitted(first, invite_token)
        user = User(email=email, password_hash=password_hash, role=ROLE_USER)
        user.approved = first or invite is not None or signup.policy() != "approval"
        if first:
            user.role = ROLE_ADMIN
        try:
            db.session.add(user)
            db.session.flush()
            if first:
                db.session.add(signup.first_admin_marker(user.id))
            if invite is not None and not signup.use_invite(invite.id, user.id):
                db.session.rollback()
                raise AccountError("invite", "This invite link was already used.", "invite_used")
            db.session.commit()
            return user
        except IntegrityError:
            # Another sign-up got there first: the same address, or the first admin.
            db.session.rollback()
    raise AccountError("email", "An account with this email already exists.", "email_taken")


def _admitted(first: bool, invite_token: str | None):
    """The invite that admits this sign-up (None if none is needed), or refuse."""
    invite = signup.find_invite(invite_token) if invite_token else None
    if invite_token and invite is None:
        raise AccountError(
            "invite", "This invite link has expired or was already used.", "invite_invalid"
        )
    policy = signup.policy()
    if first and policy != "closed":
        return invite
    if policy == "closed":
        raise AccountError(
            "email",
            "Sign-up is closed on this Reelay; ask an admin to create your account.",
            "signup_closed",
        )
    if policy == "invite" and invite is None:
        raise AccountError(
            "email", "Sign-up is by invitation: use the link an admin sent you.", "invite_required"
        )
    return invite


def authenticate(email: str, password: str) -> User:
    """The user for these credentials; AccountError says why not (a pending or
    deactivated account is only told so after the right password)."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if not check_password(user, password):
        raise AccountError("password", "Wrong email or password.", "invalid_credentials")
    if not user.approved:
        raise AccountError(
            "email", "Your account is waiting for an admin's approval.", "account_pending"
        )
    if not user.active:
        raise AccountError(
            "email", "This account is deactivated; ask an admin.", "account_inactive"
        )
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def change_password(user: User, current: str, new: str, revoke_tokens: bool = False) -> None:
    """Also ends every other browser session (whoever knew the old password is out), and
    revokes the API tokens when asked."""
    if not check_password(user, current):
        raise AccountError("current_password", "That is not your current password.", "bad_password")
    validate_password(new, field="new_password")
    if new == current:  # "changed" would end the other sessions and change nothing
        raise AccountError(
            "new_password",
            "Choose a new password that differs from the current one.",
            "same_password",
        )
    user.password_hash = hash_password(new)
    _end_sessions(user, keep=user.session_token)
    if revoke_tokens:
        from .recovery import revoke_all_tokens

        revoke_all_tokens(user, commit=False)
    db.session.commit()


# ---- browser sessions ----------------------------------------------------------------


def start_session(user: User, user_agent: str | None = None) -> str:
    """A new session row for a login; returns the token the cookie will carry."""
    token = secrets.token_urlsafe(32)
    cutoff = utcnow() - current_app.config["REMEMBER_COOKIE_DURATION"]
    db.session.execute(  # sessions older than any cookie could live are dead weight
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.created_at < cutoff)
    )
    db.session.add(
        UserSession(user_id=user.id, token_hash=_hash(token), user_agent=(user_agent or "")[:200])
    )
    db.session.commit()
    user.session_token = token
    return token


# Prebuilt: every signed-in request runs it (no per-call statement or cache-key work).
_SESSION_USER = (
    select(User)
    .join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def user_for_session(token: str) -> User | None:
    if not token or len(token) > 100:
        return None
    row = db.session.execute(_SESSION_USER, {"token_hash": _hash(token)}).scalar_one_or_none()
    if row is None or not row.is_active:
        return None
    row.session_token = token
    return row


def end_session(token: str | None) -> None:
    if token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))
        db.session.commit()


def end_all_sessions(user: User) -> int:
    """Every browser of this account is signed out (in the caller's transaction)."""
    return _end_sessions(user, keep=None)


def _end_sessions(user: User, keep: str | None) -> int:
    stmt = delete(UserSession).where(UserSession.user_id == user.id)
    if keep:
        stmt = stmt.where(UserSession.token_hash != _hash(keep))
    return db.session.execute(stmt).rowcount


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_admin(email: str, password: str) -> User:
    """Create an admin, or promote an existing account (CLI)."""
    email = normalize_email(email)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        validate_password(password)
        user = User(email=email, password_hash=hash_password(password))
        db.session.add(user)
    user.role = ROLE_ADMIN
    user.active = True
    user.approved = True
    db.session.flush()
    if db.session.get(SiteSetting, signup.FIRST_ADMIN_KEY) is None:
        db.session.add(signup.first_admin_marker(user.id))
    db.session.commit()
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).where(User.approved.is_(True)).order_by(User.id)))


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def set_role(user_id: int, role: str) -> User | None:
    user = db.session.get(User, user_id)
    if user and role in (ROLE_ADMIN, ROLE_USER):
        user.role = role
        db.session.commit()
    return user


def set_active(user_id: int, active: bool) -> User | None:
    user = db.session.get(User, user_id)
    if user:
        user.active = active
        db.session.commit()
    return user


def create_token(
    user: User,
    name: str,
    scope: str = SCOPE_WRITE,
    days: int | None = None,
    caps: dict | None = None,
) -> tuple[ApiToken, str]:
    """Returns the row and the clear token, which is never retrievable again. A token
    is read-only or read-write, may expire after ``days``, and may carry budget caps of
    its own on top of its owner's (``domain/budgets.py``)."""
    name = (name or "").strip()[:80] or "API token"
    clear = ApiToken.generate()
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=ApiToken.hash(clear),
        hint=clear[:8],
        scope=scope if scope in (SCOPE_READ, SCOPE_WRITE) else SCOPE_WRITE,
        expires_at=utcnow() + timedelta(days=days) if days else None,
        caps=dict(caps or {}),
    )
    db.session.add(token)
    db.session.commit()
    return token, clear


def revoke_token(user: User, token_id: int) -> bool:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked:
        return False
    token.revoked_at = utcnow()
    db.session.commit()
    return True


def token_for(clear: str) -> ApiToken | None:
    """The live token for a bearer value (not revoked, not expired, owner active);
    touches last_used_at at most once a minute."""
    if not clear or len(clear) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(clear)))
    now = utcnow()
    if token is None or token.revoked or token.expired(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
        db.session.commit()
    return token


def user_for_token(clear: str) -> User | None:
    token = token_for(clear)
    return token.user if token else None


def list_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )
