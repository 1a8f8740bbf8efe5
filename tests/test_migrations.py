"""`flask db upgrade` from empty works on both databases and yields exactly the models."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from webapp import create_app
from webapp.extensions import db

from .conftest import PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    if PG_URL is None:
        pytest.skip("PostgreSQL not reachable")
    name = f"reelay_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_from_empty_matches_models(empty_db_url):
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_db_url, "SCHEDULER_ENABLED": False}
    )
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        names = set(inspect(db.engine).get_table_names())
        assert {"users", "api_tokens", "providers", "video_tasks", "task_events"} <= names
        downgrade(revision="base")
        assert "video_tasks" not in set(inspect(db.engine).get_table_names())
        db.engine.dispose()
