"""Schemathesis drives every route in /api/openapi.json (both API families) with
generated input, on SQLite and on PostgreSQL: no request, however odd, may produce a
server error, and every answer must match the document — its status codes, content
types and schemas, which are generated from the same pydantic models the views use."""

from __future__ import annotations

import os
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from webapp import create_app
from webapp.extensions import db
from webapp.services import accounts, sim_seed
from webapp.simulator.server import SimulatorServer

from .conftest import PG_URL

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
_SIM = None


def _sim():
    global _SIM
    if _SIM is None:
        os.environ.setdefault("REELAY_SIM_KEY", "sim-key")
        _SIM = SimulatorServer(
            {"API_KEY": os.environ["REELAY_SIM_KEY"], "QUEUE_SECONDS": 0, "RUN_SECONDS": 1}
        ).start()
    return _SIM


def _app(uri: str):
    tmp = tempfile.mkdtemp()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "fuzz",
            "SCHEDULER_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": uri,
            "ARCHIVE_DIR": f"{tmp}/archive",
            "API_RATE_LIMIT": "100000 per minute",
            "LOGIN_RATE_LIMIT": "100000 per minute",
            "UPSTREAM_READ_TIMEOUT": 5.0,
            "SIGNUP_POLICY": "open",
        }
    )
    with app.app_context():
        if uri.startswith("postgresql"):
            db.drop_all()
        db.create_all()
        sim_seed.seed(_sim().url)
        user = accounts.register("fuzz@example.com", "correct horse")
        app.config["_FUZZ_TOKEN"] = accounts.create_token(user, "fuzz")[1]
        uid = user.id
    # Real videos for the routes that take an id, in each state a client can meet.
    from webapp.domain import statuses as st

    from . import factories

    app.config["_FUZZ_VIDEOS"] = [
        factories.task(app, uid, status=status, provider_id=1)
        for status in (st.QUEUED, st.PROCESSING, st.COMPLETED, st.FAILED, st.CANCELLED)
    ]
    # DELETE removes what it names: it gets videos of its own to remove.
    app.config["_FUZZ_DOOMED"] = [factories.task(app, uid, provider_id=1) for _ in range(20)]
    return app


def _schema(uri: str):
    app = _app(uri)
    return app, schemathesis.openapi.from_wsgi("/api/openapi.json", app)


SQLITE_APP, SQLITE_SCHEMA = _schema(f"sqlite:///{tempfile.mkdtemp()}/fuzz.sqlite3")
FUZZ = settings(
    max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def _call(app, case):
    """Half the cases that name a video name one of the user's real ones, so the
    answers for existing videos are checked against the document too."""
    if "video_id" in (case.path_parameters or {}):
        videos = app.config["_FUZZ_DOOMED" if case.method == "DELETE" else "_FUZZ_VIDEOS"]
        pick = sum(map(ord, str(case.path_parameters["video_id"])))
        if pick % 2:
            case.path_parameters["video_id"] = videos[pick % len(videos)]
    # Our token, whatever credentials the generator drew for the bearer scheme.
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {app.config['_FUZZ_TOKEN']}"}
    case.call_and_validate(checks=CHECKS)


@SQLITE_SCHEMA.parametrize()
@FUZZ
def test_every_route_conforms_on_sqlite(case):
    _call(SQLITE_APP, case)


def _private_pg() -> str:
    """A database of this module's own next to the suite's (other tests truncate theirs)."""
    import atexit

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    name = f"{url.database}_fuzz"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    atexit.register(drop)
    return url.set(database=name).render_as_string(hide_password=False)


if PG_URL is not None:
    PG_APP, PG_SCHEMA = _schema(_private_pg())

    @pytest.mark.postgres
    @PG_SCHEMA.parametrize()
    @FUZZ
    def test_every_route_conforms_on_postgresql(case):
        _call(PG_APP, case)
