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


def test_downgrading_past_deleted_tasks_recounts_the_rollups(empty_db_url):
    """Without deleted_tasks the rollups must again equal what the tasks alone say."""
    from sqlalchemy import select

    from webapp.domain import statuses as st
    from webapp.models import StatsRollup, User, VideoTask, rollups
    from webapp.services import accounts, tasks

    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_db_url, "SCHEDULER_ENABLED": False}
    )

    def rows():
        return {
            tuple(getattr(r, k) for k in rollups.KEY): (r.tasks, float(r.cost))
            for r in db.session.scalars(select(StatsRollup).where(StatsRollup.tasks != 0))
        }

    with app.app_context():
        upgrade()
        user = accounts.register("ada@example.com", "correct horse")
        for i in range(2):
            db.session.add(
                VideoTask(
                    video_id=tasks.new_video_id(),
                    user_id=user.id,
                    model="sora_video2",
                    prompt=f"p{i}",
                    status=st.COMPLETED,
                    cost=0.4,
                    options={},
                    upstream_data={},
                    archive={},
                )
            )
        db.session.commit()
        first = db.session.scalar(select(VideoTask.video_id).order_by(VideoTask.id))
        tasks.delete(db.session.get(User, user.id), first)
        assert sum(n for n, _ in rows().values()) > 0
        downgrade(revision="c99de9c5c006")
        db.session.remove()
        kept = rows()
        db.session.execute(text("DELETE FROM stats_rollups"))
        for grain in rollups.GRAINS:
            db.session.execute(
                text(rollups.rebuild_sql(db.engine.dialect.name, grain)),
                {"start": "2000-01-01", "end": "3000-01-01"},
            )
        assert rows() == kept
        user_grain = [v for k, v in kept.items() if k[0] == "user"]
        assert user_grain == [(1, 0.4)]
        db.session.rollback()
        downgrade(revision="base")
        db.engine.dispose()
