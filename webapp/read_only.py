"""Views that only read, served without a transaction.

A page like the history or the progress fragment sends a handful of SELECTs and writes
nothing. Under PostgreSQL's READ COMMITTED every statement takes its own snapshot
whether or not a transaction wraps it, so the BEGIN and ROLLBACK around such a request
change nothing it sees and cost two round trips. Views marked ``@read_only`` run on an
autocommit connection instead (``postgres.without_transaction``; SQLite's BEGIN is a
function call, so nothing changes there).

On both databases a read-only view that tries to write fails loudly: a flush, or an
ORM ``insert``/``update``/``delete`` statement, raises ``ReadOnlyViolation``, so a view
that starts writing fails its tests rather than committing statement by statement.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from . import postgres


class ReadOnlyViolation(RuntimeError):
    """A view marked read-only tried to write."""


def read_only(view):
    """Mark a view as one that never writes (GET and HEAD only)."""
    view.read_only = True
    return view


def init_app(app: Flask) -> None:
    @app.before_request
    def _reads_only():
        view = app.view_functions.get(request.endpoint or "")
        if request.method not in ("GET", "HEAD") or not getattr(view, "read_only", False):
            return
        g.read_only = True
        postgres.without_transaction()


def _in_read_only_request() -> bool:
    return has_request_context() and bool(g.get("read_only"))


@event.listens_for(Session, "before_flush")
def _refuse_flushes(session, _context, _instances):
    if not _in_read_only_request():
        return
    changed = session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
    if changed:
        raise ReadOnlyViolation(f"{request.endpoint} is read-only but tried to write")


@event.listens_for(Session, "do_orm_execute")
def _refuse_statements(state):
    if (state.is_insert or state.is_update or state.is_delete) and _in_read_only_request():
        raise ReadOnlyViolation(f"{request.endpoint} is read-only but sent a write statement")
