"""deleted tasks keep their spend: deleted_tasks, counted by the rollups

Revision ID: d4e5f6a7b8c9
Revises: c99de9c5c006
Create Date: 2026-12-07 13:40:00

"""

import sqlalchemy as sa
from alembic import op

from webapp.models import rollups

revision = "d4e5f6a7b8c9"
down_revision = "c99de9c5c006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "deleted_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.String(length=48), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("api_token_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("media_type", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_token_id"],
            ["api_tokens.id"],
            name=op.f("fk_deleted_tasks_api_token_id_api_tokens"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_deleted_tasks_provider_id_providers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_deleted_tasks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deleted_tasks")),
    )
    op.create_index(
        "ix_deleted_tasks_user_created", "deleted_tasks", ["user_id", "created_at"]
    )
    op.create_index(
        op.f("ix_deleted_tasks_api_token_id"), "deleted_tasks", ["api_token_id"]
    )
    for statement in rollups.install_statements(op.get_bind().dialect.name, "deleted_tasks"):
        op.execute(statement)


def downgrade():
    for statement in rollups.uninstall_statements(op.get_bind().dialect.name, "deleted_tasks"):
        op.execute(statement)
    op.drop_index(op.f("ix_deleted_tasks_api_token_id"), table_name="deleted_tasks")
    op.drop_index("ix_deleted_tasks_user_created", table_name="deleted_tasks")
    op.drop_table("deleted_tasks")
    # The rollups counted what deleted tasks left; recount them from the tasks alone.
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM stats_rollups"))
    for grain in rollups.GRAINS:
        bind.execute(
            sa.text(rollups.rebuild_sql(bind.dialect.name, grain)),
            {"start": "2000-01-01", "end": "3000-01-01"},
        )
