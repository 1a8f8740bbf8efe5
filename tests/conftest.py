"""Shared fixtures. Every test that uses ``app`` runs on SQLite and, when PostgreSQL is
reachable (TEST_DATABASE_URL or the local server), on PostgreSQL too."""

from __future__ import annotations

import atexit
import os
import re
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from webapp import create_app
from webapp.config import normalize_db_url
from webapp.extensions import db, limiter

pytest_plugins = ["tests.lifecycle_support"]  # the simulator fixtures: sim, sim_app

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_url() -> str | None:
    """A private database for this test run on the configured server, so parallel runs
    (and whatever else lives in TEST_DATABASE_URL) never see each other's rows."""
    url = normalize_db_url(os.environ.get("TEST_DATABASE_URL") or PG_DEFAULT)
    try:
        engine = create_engine(
            url, connect_args={"connect_timeout": 2}, isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - unreachable means "skip PostgreSQL"
        if os.environ.get("TEST_DATABASE_URL"):
            raise
        return None
    name = f"reelay_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # noqa: BLE001 - no CREATEDB privilege: use the given database
        engine.dispose()
        return url

    def drop():
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    atexit.register(drop)
    return make_url(url).set(database=name).render_as_string(hide_password=False)


PG_URL = _pg_url()
BACKENDS = ["sqlite", "postgresql"]


def base_config(tmp_path, backend: str) -> dict:
    if backend == "postgresql":
        uri = PG_URL
    else:
        uri = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return {
        "TESTING": True,
        "REELAY_ENV": "test",
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": False,
        "SCHEDULER_ENABLED": False,
        "RATELIMIT_ENABLED": True,
        "ARCHIVE_DIR": str(tmp_path / "archive"),
        "SERVER_NAME": None,
        "SIGNUP_POLICY": "open",  # tests of the policy set their own
    }


_pg_schema_ready = False


def _reset_postgres(app) -> None:
    global _pg_schema_ready
    with app.app_context():
        if not _pg_schema_ready:
            db.drop_all()
            db.create_all()
            _pg_schema_ready = True
        tables = ", ".join(t.name for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.session.commit()


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "postgresql" and PG_URL is None:
        pytest.skip("PostgreSQL not reachable")
    return request.param


@pytest.fixture
def make_app(tmp_path, backend):
    """Build an app for this test's backend; extra config overrides the defaults."""
    apps = []

    def factory(**overrides):
        from webapp.services import health, history, progress, throttle

        health.forget()  # provider ids repeat from test to test
        history.forget_filters()
        throttle.reset()
        progress.forget_typical()
        app = create_app({**base_config(tmp_path, backend), **overrides})
        if backend == "postgresql":
            if not apps:  # a second app in the same test is a "restart": keep the data
                _reset_postgres(app)
        else:
            with app.app_context():
                db.create_all()
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    limiter.reset()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Auth:
    def __init__(self, client):
        self.client = client

    def register(self, email="ada@example.com", password="correct horse"):
        return self.client.post(
            "/auth/register",
            data={"email": email, "password": password, "confirm": password},
        )

    def login(self, email="ada@example.com", password="correct horse"):
        return self.client.post("/auth/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/auth/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no csrf token in page"
    return match.group(1)
