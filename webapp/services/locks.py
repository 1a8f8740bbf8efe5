"""Row locks that hold on both databases, for check-then-write decisions that must not
interleave (a budget checked and a task inserted; a circuit counted and opened).

PostgreSQL locks the row (``SELECT … FOR UPDATE``): only writers of that one row wait.
SQLite has no row locks; a no-op UPDATE takes its one write lock before anything is
read, so the check that follows sees every committed write and no writer can slip in
before the commit."""

from __future__ import annotations

from sqlalchemy import select, update


def for_update(conn, model, column, key) -> None:
    """Lock ``model`` row ``column == key`` until the transaction of ``conn`` (a session
    or a connection) ends."""
    bind = conn.get_bind() if hasattr(conn, "get_bind") else conn
    if bind.dialect.name == "postgresql":
        conn.execute(select(column).where(column == key).with_for_update())
    else:
        conn.execute(
            update(model).where(column == key).values({column.key: column}),
            execution_options={"synchronize_session": False},
        )
