"""How Reelay holds its psycopg2 connections: checked for life without a round trip per
request, and read-only requests served outside a transaction.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` on every checkout: one round trip
per request. An idle PostgreSQL connection has nothing to read; one whose server went
away (restart, ``pg_terminate_backend``, idle timeout) has the server's goodbye or the
end of the stream waiting on its socket. So a checkout looks at the socket (``poll``
with no wait: unlike ``select`` it takes descriptors past 1024, which a busy worker
reaches) and pings only a connection with something to read, or one idle for longer
than ``PING_AFTER_IDLE`` (a peer that vanished without closing, behind NAT or a
firewall, says nothing). A failed ping makes the pool discard the connection and
connect afresh, as pre-ping would. Under load connections are reused within
milliseconds, so no ping is sent at all.

``without_transaction`` switches the request's connection to autocommit (see
webapp/read_only.py for why that is safe for reads). psycopg2's switch is client-side
(SQLAlchemy's isolation_level option would send a SET on the way back), and every
connection goes back to the pool transactional, whatever the request did.
"""

from __future__ import annotations

import select
import time

from flask import Flask
from sqlalchemy import event, exc

from .extensions import db

PING_AFTER_IDLE = 30.0  # seconds


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "checkin")
    def _back_in_the_pool(dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()
        if dbapi_conn is None or not dbapi_conn.autocommit:
            return
        try:
            dbapi_conn.autocommit = False
        except Exception as err:  # noqa: BLE001 - never pool a connection left autocommit
            record.invalidate(err)

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_conn, record, _proxy):
        if dbapi_conn.closed:
            raise exc.DisconnectionError("connection closed")
        idle = time.monotonic() - record.info.get("idle_since", time.monotonic())
        if idle < PING_AFTER_IDLE and not _has_input(dbapi_conn):
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # noqa: BLE001 - any failure means a dead connection
            raise exc.DisconnectionError("connection lost while idle") from err


def without_transaction() -> None:
    """This request's statements run without BEGIN and ROLLBACK (PostgreSQL only)."""
    if db.engine.dialect.name == "postgresql":
        db.session.connection().connection.dbapi_connection.autocommit = True


def _has_input(dbapi_conn) -> bool:
    """Whether anything waits on an idle connection's socket (True when unsure)."""
    fileno = getattr(dbapi_conn, "fileno", None)
    if fileno is None or not hasattr(select, "poll"):
        return True  # a driver without a socket to look at, or no poll(): ping
    poller = select.poll()
    poller.register(fileno(), select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
