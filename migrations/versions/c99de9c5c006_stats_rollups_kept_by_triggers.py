"""stats rollups kept by triggers

Revision ID: c99de9c5c006
Revises: b7d1e2f3a4c5
Create Date: 2026-12-03 11:34:43.058929

"""

import sqlalchemy as sa
from alembic import op

# The trigger SQL lives beside the model so create_all and this migration install the
# same thing; a later change to it comes with its own migration that re-installs it.
from webapp.models import rollups

revision = "c99de9c5c006"
down_revision = "b7d1e2f3a4c5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "stats_rollups",
        sa.Column("grain", sa.String(length=6), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("api_token_id", sa.Integer(), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.PrimaryKeyConstraint(
            "grain",
            "user_id",
            "day",
            "provider_id",
            "model",
            "status",
            "bucket",
            "api_token_id",
            name=op.f("pk_stats_rollups"),
        ),
    )
    op.create_index("ix_stats_rollups_grain_day", "stats_rollups", ["grain", "day"])
    bind = op.get_bind()
    dialect = bind.dialect.name
    for statement in rollups.install_statements(dialect):
        op.execute(statement)
    # Stats no longer scan the tasks: their covering index becomes a plain one.
    op.drop_index("ix_video_tasks_created", table_name="video_tasks")
    op.create_index("ix_video_tasks_created", "video_tasks", ["created_at"])
    # Count the tasks that exist already.
    for grain in rollups.GRAINS:
        bind.execute(
            sa.text(rollups.rebuild_sql(dialect, grain)),
            {"start": "2000-01-01", "end": "3000-01-01"},
        )


def downgrade():
    op.drop_index("ix_video_tasks_created", table_name="video_tasks")
    op.create_index(
        "ix_video_tasks_created",
        "video_tasks",
        ["created_at"],
        postgresql_include=[
            "status",
            "model",
            "provider_id",
            "user_id",
            "completed_at",
            "seconds",
            "cost",
        ],
    )
    for statement in rollups.uninstall_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_index("ix_stats_rollups_grain_day", table_name="stats_rollups")
    op.drop_table("stats_rollups")
