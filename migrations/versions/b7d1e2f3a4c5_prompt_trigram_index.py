"""prompt search through a pg_trgm GIN index on PostgreSQL

Revision ID: b7d1e2f3a4c5
Revises: 8fcdf9643e38
Create Date: 2026-12-03 07:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "b7d1e2f3a4c5"
down_revision = "8fcdf9643e38"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm ships with PostgreSQL (contrib); creating it needs the CREATE privilege
        # on the database (the owner has it).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_video_tasks_prompt_trgm",
        "video_tasks",
        ["prompt"],
        postgresql_using="gin",
        postgresql_ops={"prompt": "gin_trgm_ops"},
        sqlite_where=sa.text("0"),
    )


def downgrade():
    op.drop_index("ix_video_tasks_prompt_trgm", table_name="video_tasks")
