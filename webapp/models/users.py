from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import utcnow

ROLE_USER = "user"
ROLE_ADMIN = "admin"
TOKEN_PREFIX = "rly_"
SCOPE_READ = "read"
SCOPE_WRITE = "write"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_USER)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # False while a sign-up waits for an admin's approval (sign-up policy "approval").
    approved: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Budget and quota overrides (``domain/budgets.py``): a named cap replaces the
    # admin's default, None meaning unlimited.
    caps: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    # Set when the user is loaded from (or logged into) a browser session: flask-login
    # stores get_id() in the cookie, so the cookie names the session, not the user.
    session_token = None  # a plain attribute, not a column

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive users
        return bool(self.active) and bool(self.approved)

    @property
    def is_pending(self) -> bool:
        return not self.approved

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class ApiToken(db.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the clear token is
    shown once at creation. SHA-256 (not argon2) because tokens are 256-bit random and
    are checked on every API request."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # first characters, to recognise it in lists
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: until revoked
    scope: Mapped[str] = mapped_column(String(8), default=SCOPE_WRITE, server_default=SCOPE_WRITE)
    caps: Mapped[dict] = mapped_column(
        JSON, default=dict, server_default="{}"
    )  # extra caps on top of its owner's

    user: Mapped[User] = relationship(back_populates="tokens")

    @staticmethod
    def generate() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or utcnow()) >= self.expires_at

    @property
    def read_only(self) -> bool:
        return self.scope == SCOPE_READ


class UserSession(db.Model):
    """One logged-in browser. The cookie carries a random token; only its SHA-256 is
    stored. Deleting the row ends that session at once, which a signed cookie alone
    cannot do (logout, password change, "sign out everywhere else")."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class OneTimeLink(db.Model):
    """An invite or a password-reset link: only the SHA-256 of its token is stored, it
    expires, and it works once (``used_at`` is set compare-and-set)."""

    __tablename__ = "one_time_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(10))  # invite | reset
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(  # reset: whose password; invite: who used it
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(String(120))  # an invite's "for whom"
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class LoginThrottle(db.Model):
    """Failed logins for one account from one address, with a back-off: slows a guesser
    down without locking the owner (at another address) out. In the database, so every
    process and host sees the same count."""

    __tablename__ = "login_throttle"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SiteSetting(db.Model):
    """Settings an admin changes at run time (sign-up policy), and once-only facts
    (``first_admin``: its primary key makes "the first admin" happen exactly once)."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    @classmethod
    def put(cls, key: str, value: str) -> None:
        """Insert or update one setting in the session; the caller commits."""
        row = db.session.get(cls, key)
        if row is None:
            db.session.add(cls(key=key, value=value))
        else:
            row.value = value
