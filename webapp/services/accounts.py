"""Accounts, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete, func, select

from ..extensions import db
from ..models import ApiToken, User, UserSession
from ..models.base import utcnow
from ..models.users import ROLE_ADMIN, ROLE_USER

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


def _validate_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(
            "password", f"Use at least {MIN_PASSWORD} characters.", "password_too_short"
        )
    if len(password) > MAX_PASSWORD:
        raise AccountError(
            "password", f"Use at most {MAX_PASSWORD} characters.", "password_too_long"
        )


def register(email: str, password: str) -> User:
    """Create an account. The very first account becomes an admin."""
    email = normalize_email(email)
    _validate_password(password)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise AccountError("email", "An account with this email already exists.", "email_taken")
    first = not db.session.scalar(select(func.count(User.id)))
    user = User(
        email=email, password_hash=hash_password(password), role=ROLE_ADMIN if first else ROLE_USER
    )
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if not check_password(user, password) or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Also ends every other browser session: whoever knew the old password is out."""
    if not check_password(user, current):
        raise AccountError("current_password", "That is not your current password.", "bad_password")
    _validate_password(new)
    user.password_hash = hash_password(new)
    _end_sessions(user, keep=user.session_token)
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


def user_for_session(token: str) -> User | None:
    if not token or len(token) > 100:
        return None
    row = db.session.execute(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == _hash(token))
    ).scalar_one_or_none()
    if row is None or not row.is_active:
        return None
    row.session_token = token
    return row


def end_session(token: str | None) -> None:
    if token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))
        db.session.commit()


def end_other_sessions(user: User) -> int:
    count = _end_sessions(user, keep=user.session_token)
    db.session.commit()
    return count


def count_sessions(user: User) -> int:
    return db.session.scalar(
        select(func.count(UserSession.id)).where(UserSession.user_id == user.id)
    )


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
        _validate_password(password)
        user = User(email=email, password_hash=hash_password(password))
        db.session.add(user)
    user.role = ROLE_ADMIN
    user.active = True
    db.session.commit()
    return user


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


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Returns the row and the clear token, which is never retrievable again."""
    name = (name or "").strip()[:80] or "API token"
    clear = ApiToken.generate()
    token = ApiToken(user_id=user.id, name=name, token_hash=ApiToken.hash(clear), hint=clear[:8])
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


def user_for_token(clear: str) -> User | None:
    """Resolve a bearer token; touches last_used_at at most once a minute."""
    if not clear or len(clear) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(clear)))
    if token is None or token.revoked or not token.user.is_active:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
        db.session.commit()
    return token.user


def list_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )
