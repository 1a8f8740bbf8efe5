"""SQLite tuning for the embedded default: WAL so readers never block the writer, a
busy timeout so concurrent writers wait instead of failing, foreign keys on, and the
function the stats rollup triggers call."""

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .domain import timings
from .extensions import db


def init_app(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        _tune(db.engine)


def _tune(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        # The stats rollup triggers bucket generation times with the same formula the
        # PostgreSQL function uses.
        dbapi_conn.create_function("reelay_time_bucket", 1, timings.bucket, deterministic=True)
