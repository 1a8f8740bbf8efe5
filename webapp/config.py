"""Every setting, read from environment variables with typed parsing and safe defaults.

``load_config()`` is called once by ``create_app``; tests pass overrides into the
factory instead of touching the environment.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(RuntimeError):
    """Raised at start-up for a setting that would make the app unsafe or broken."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true/false (got {raw!r})")


def env_floats(name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        values = tuple(float(v) for v in raw.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated seconds (got {raw!r})") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"{name} must list at least one positive number of seconds")
    return values


SIGNUP_POLICIES = ("open", "approval", "invite", "closed")


def env_choice(name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)} (got {raw!r})")
    return raw.lower()


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer (got {raw!r})") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum} (got {value})")
    return value


def env_float(name: str, default: float) -> float:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number (got {raw!r})") from None


def database_url() -> str:
    return normalize_db_url(env_str("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'reelay.sqlite3'}"))


def normalize_db_url(url: str) -> str:
    """Accept Heroku-style ``postgres://`` and pin the driver to psycopg2 (the stack's
    choice; SQLAlchemy 2.1 would otherwise default to psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def load_config() -> dict:
    env = (env_str("REELAY_ENV", "development") or "development").lower()
    if env not in {"development", "production", "test"}:
        raise ConfigError("REELAY_ENV must be development, production or test")
    cfg = {
        "REELAY_ENV": env,
        "SECRET_KEY": env_str("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": database_url(),
        # hide_parameters: a failed statement is logged without its values (password
        # hashes, prompts, tokens never reach the log).
        # PostgreSQL connections are checked for life by webapp/postgres.py.
        "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True},
        # Sessions and cookies
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_bool("REELAY_SECURE_COOKIES", env == "production"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": env_bool("REELAY_SECURE_COOKIES", env == "production"),
        "REMEMBER_COOKIE_DURATION": timedelta(days=env_int("REELAY_REMEMBER_DAYS", 30, minimum=1)),
        # Behind a reverse proxy, how many hops of X-Forwarded-For/-Proto to believe
        # (0 = none; otherwise every client would share the proxy's address and limits).
        "TRUSTED_PROXIES": env_int("REELAY_TRUSTED_PROXIES", 0, minimum=0),
        # Accounts: who may sign up, and how people get back in.
        "SIGNUP_POLICY": env_choice("REELAY_SIGNUP", SIGNUP_POLICIES, None),
        "BASE_URL": env_str("REELAY_BASE_URL"),  # for links in e-mails and the CLI
        "SMTP_URL": env_str("REELAY_SMTP_URL"),  # smtp://user:pass@host:587 or smtps://…
        "MAIL_FROM": env_str("REELAY_MAIL_FROM", "reelay@localhost"),
        "INVITE_DAYS": env_int("REELAY_INVITE_DAYS", 7, minimum=1),
        "RESET_HOURS": env_int("REELAY_RESET_HOURS", 24, minimum=1),
        # A dashboard tab left open for hours must still be able to post.
        "WTF_CSRF_TIME_LIMIT": None,
        # Limits: a 10 MB image as base64 in JSON is ~13.4 MB.
        "MAX_CONTENT_LENGTH": env_int("REELAY_MAX_BODY_MB", 16, minimum=1) * 1024 * 1024,
        "MAX_IMAGE_BYTES": env_int("REELAY_MAX_IMAGE_MB", 10, minimum=1) * 1024 * 1024,
        "MAX_PROMPT_CHARS": 32000,
        "RATELIMIT_STORAGE_URI": env_str("RATELIMIT_STORAGE_URI", "memory://"),
        # Keeps several Reelay instances sharing one Redis apart.
        "RATELIMIT_KEY_PREFIX": env_str("RATELIMIT_KEY_PREFIX", "reelay"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Retry-After belongs on a 429 only (the error handler sets it there).
        "RATELIMIT_HEADER_RETRY_AFTER": "X-RateLimit-Retry-After",
        "LOGIN_RATE_LIMIT": env_str("REELAY_LOGIN_RATE_LIMIT", "10 per minute"),
        "API_RATE_LIMIT": env_str("REELAY_API_RATE_LIMIT", "120 per minute"),
        # Background work
        "SCHEDULER_ENABLED": env_bool("REELAY_SCHEDULER", True),
        "POLL_INTERVAL_SECONDS": env_float("REELAY_POLL_INTERVAL", 2.0),
        "POLL_BATCH": env_int("REELAY_POLL_BATCH", 200, minimum=1),
        "POLL_WORKERS": env_int("REELAY_POLL_WORKERS", 32, minimum=1),
        "LEASE_SECONDS": env_int("REELAY_LEASE_SECONDS", 120, minimum=5),
        "TASK_DEADLINE_SECONDS": env_int("REELAY_TASK_DEADLINE", 7200, minimum=10),
        # Looks for the job of a create whose answer was lost, and the first retry step.
        "RECONCILE_DELAYS": env_floats("REELAY_RECONCILE_DELAYS", (5.0, 15.0, 30.0)),
        "RETRY_BASE_SECONDS": env_float("REELAY_RETRY_BASE", 5.0),
        # Failed creates in a row that open a provider's circuit (domain/health.py).
        "CIRCUIT_THRESHOLD": env_int("REELAY_CIRCUIT_THRESHOLD", 5, minimum=1),
        # How long a create keeps going round its providers while none accepts it.
        "SUBMIT_WINDOW_SECONDS": env_int("REELAY_SUBMIT_WINDOW", 600, minimum=0),
        # Budgets and prices are in this currency (an ISO code such as USD or EUR).
        "CURRENCY": (env_str("REELAY_CURRENCY", "USD") or "USD").upper()[:3],
        "UPSTREAM_CONNECT_TIMEOUT": env_float("REELAY_UPSTREAM_CONNECT_TIMEOUT", 5.0),
        "UPSTREAM_READ_TIMEOUT": env_float("REELAY_UPSTREAM_READ_TIMEOUT", 30.0),
        # Where upstream requests may go besides the public internet: "loopback" (the
        # development default, for the simulator) or "private" (a gateway on your LAN).
        # Link-local and cloud metadata addresses are refused whatever this says.
        "UPSTREAM_NETWORKS": env_choice(
            "REELAY_UPSTREAM_NETWORKS",
            ("public", "loopback", "private"),
            "public" if env == "production" else "loopback",
        ),
        # Content archive
        "ARCHIVE_BACKEND": env_str("REELAY_ARCHIVE", "local"),
        "ARCHIVE_DIR": env_str("REELAY_ARCHIVE_DIR", str(INSTANCE_DIR / "archive")),
        "S3_BUCKET": env_str("REELAY_S3_BUCKET"),
        "S3_PREFIX": env_str("REELAY_S3_PREFIX", "reelay/"),
        "S3_ENDPOINT_URL": env_str("REELAY_S3_ENDPOINT_URL"),
        "S3_REGION": env_str("REELAY_S3_REGION"),
        "SIGNED_URL_TTL": env_int("REELAY_SIGNED_URL_TTL", 3600, minimum=60),
        # The built-in simulator, registered as the default provider by `flask providers seed`.
        "SIMULATOR_URL": env_str("REELAY_SIMULATOR_URL", "http://127.0.0.1:8001"),
        "LOG_LEVEL": (env_str("LOG_LEVEL", "INFO") or "INFO").upper(),
    }
    return cfg


def finalize(cfg: dict) -> dict:
    """Check the merged configuration; refuse to run production without a secret."""
    if not cfg.get("SECRET_KEY"):
        if cfg["REELAY_ENV"] == "production" and not cfg.get("TESTING"):
            raise ConfigError("SECRET_KEY must be set when REELAY_ENV=production")
        # Development/test only: a stable per-checkout key so sessions survive restarts
        # and several local processes agree.
        cfg["SECRET_KEY"] = _dev_secret()
    if cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"timeout": 15},
            "hide_parameters": True,
        }
    return cfg


def _dev_secret() -> str:
    path = INSTANCE_DIR / "dev-secret-key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        import secrets

        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
