"""Read-only views without a transaction, and connections checked for life without a
round trip (webapp/read_only.py, webapp/postgres.py)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, event, select, text, update

from tests import factories
from webapp.extensions import db
from webapp.models import User, VideoTask
from webapp.read_only import ReadOnlyViolation, read_only


def _user_id(app, email="ada@example.com") -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def _signed_in(app, auth) -> int:
    auth.register()
    auth.login()
    return _user_id(app)


def test_the_read_only_pages_still_show_what_they_showed(app, client, auth):
    uid = _signed_in(app, auth)
    pid = factories.provider(app)
    done = factories.task(app, uid, pid, prompt="a paper boat at dawn")
    running = factories.task(app, uid, pid, status="PROCESSING", prompt="a glacier")
    history = client.get("/tasks")
    assert history.status_code == 200
    assert "a paper boat at dawn" in history.text and "a glacier" in history.text
    assert client.get(f"/tasks/{done}").status_code == 200
    live = client.get(f"/tasks/{running}/live", headers={"HX-Request": "true"})
    assert live.status_code == 200 and "Generating" in live.text
    assert client.get("/stats").status_code == 200


def test_a_read_only_view_that_writes_fails_and_writes_nothing(make_app, auth, caplog):
    app = make_app()

    @app.get("/_test/renames-me")
    @read_only
    def renames_me():
        user = db.session.get(User, _user_id(app))
        user.email = "changed@example.com"
        db.session.commit()
        return "renamed"

    client = app.test_client()
    auth = type(auth)(client)
    _signed_in(app, auth)
    assert client.get("/_test/renames-me").status_code == 500
    assert any(isinstance(r.exc_info and r.exc_info[1], ReadOnlyViolation) for r in caplog.records)
    assert _user_id(app) is not None
    assert _user_id(app, "changed@example.com") is None


def test_a_read_only_view_that_sends_a_write_statement_fails_and_writes_nothing(
    make_app, auth, caplog
):
    app = make_app()

    @app.get("/_test/bulk-renames")
    @read_only
    def bulk_renames():
        db.session.execute(update(User).values(email="changed@example.com"))
        return "renamed"

    client = app.test_client()
    _signed_in(app, type(auth)(client))
    assert client.get("/_test/bulk-renames").status_code == 500
    assert any(isinstance(r.exc_info and r.exc_info[1], ReadOnlyViolation) for r in caplog.records)
    assert _user_id(app, "changed@example.com") is None


def test_a_connection_that_served_a_read_only_page_goes_back_transactional(
    app, client, auth, backend
):
    """If a read-only request left its connection in autocommit, the next user of that
    connection would commit statement by statement: a rolled-back write would stay."""
    uid = _signed_in(app, auth)
    for _ in range(3):
        assert client.get("/tasks").status_code == 200
    with app.app_context():
        if backend == "postgresql":
            pooled = [db.engine.raw_connection() for _ in range(db.engine.pool.checkedin())]
            assert pooled and not any(c.driver_connection.autocommit for c in pooled)
            for c in pooled:
                c.close()
        factories_task = VideoTask(
            video_id="video_rolled_back", user_id=uid, model="m", prompt="never kept"
        )
        db.session.add(factories_task)
        db.session.flush()
        db.session.rollback()
    with app.app_context():
        assert db.session.scalar(select(VideoTask).where(VideoTask.prompt == "never kept")) is None


def test_pages_send_only_their_own_statements_on_postgresql(app, client, auth, backend):
    """No ping, no BEGIN, no ROLLBACK around a read-only page: what PostgreSQL receives
    is the page's own SELECTs (seen through psycopg2's own connection, which sends
    BEGIN as a statement of its own when not in autocommit)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's round trips")
    _signed_in(app, auth)
    client.get("/tasks")
    sent: list[str] = []
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, *_):
        sent.append(statement.split()[0].upper())
        sent.append("autocommit" if conn.connection.dbapi_connection.autocommit else "in-txn")

    assert client.get("/tasks").status_code == 200
    event.remove(engine, "before_cursor_execute", _seen)
    assert sent and set(sent[1::2]) == {"autocommit"}
    assert set(sent[0::2]) == {"SELECT"}


def test_a_connection_the_server_closed_is_replaced_without_an_error(app, client, auth, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL connections")
    uid = _signed_in(app, auth)
    factories.task(app, uid, prompt="still here after the restart")
    assert client.get("/tasks").status_code == 200
    with app.app_context():
        engine = db.engine
        url = engine.url
    connects: list[int] = []
    event.listen(engine, "connect", lambda *_: connects.append(1))

    # A healthy idle connection is reused as it is: no new connection, no ping.
    assert client.get("/tasks").status_code == 200
    assert connects == []

    # The server ends every connection in the app's pool (as a restart would), and
    # only those: other tests' connections to this database live on.
    pooled = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    pids = [c.driver_connection.get_backend_pid() for c in pooled]
    for c in pooled:
        c.close()
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ended = conn.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM unnest(:pids) AS pid"),
            {"pids": pids},
        ).scalar()
        # pg_terminate_backend only signals: wait until the backends have gone, so the
        # connections are closed ones (a backend dying during a query fails that query,
        # with or without a ping beforehand).
        for _ in range(100):
            left = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                {"pids": pids},
            ).scalar()
            if not left:
                break
            time.sleep(0.05)
        time.sleep(0.2)  # a backend leaves pg_stat_activity just before its socket closes
    admin.dispose()
    assert ended == len(pids) >= 1 and not left
    page = client.get("/tasks")
    assert page.status_code == 200
    assert "still here after the restart" in page.text
    assert connects, "the dead connection was replaced"


def test_a_connection_idle_for_long_is_pinged_first(app, client, auth, backend, monkeypatch):
    """A peer that vanished without closing (NAT, firewall) leaves nothing to read, so
    a connection idle past PING_AFTER_IDLE is pinged as pool_pre_ping would."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL connections")
    from webapp import postgres

    _signed_in(app, auth)
    with app.app_context():
        dialect = db.engine.dialect
    pings: list[int] = []
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda c: pings.append(1) or real_ping(c))
    assert client.get("/tasks").status_code == 200
    assert pings == []  # busy connections are not pinged
    monkeypatch.setattr(postgres, "PING_AFTER_IDLE", 0.0)
    assert client.get("/tasks").status_code == 200
    assert pings


def test_the_fragment_of_a_task_that_just_completed_offers_remix(app, client, auth):
    """The polled fragment skips the provider while a task runs; the poll that finds it
    completed loads it, so the Remix form appears without reloading the page."""
    uid = _signed_in(app, auth)
    pid = factories.provider(app)
    running = factories.task(app, uid, pid, status="PROCESSING")
    live = client.get(f"/tasks/{running}/live", headers={"HX-Request": "true"})
    assert "Remix this video" not in live.text
    with app.app_context():
        task = db.session.scalar(select(VideoTask).where(VideoTask.video_id == running))
        task.status, task.progress = "COMPLETED", 100
        db.session.commit()
    done = client.get(f"/tasks/{running}/live", headers={"HX-Request": "true"})
    assert done.status_code == 286
    assert "Remix this video" in done.text
