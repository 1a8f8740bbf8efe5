"""Provider health kept in the database: the circuit breaker every process shares, the
call statistics behind the admin page, and the admin's reset."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from tests import factories
from tests.conftest import csrf_token_from
from webapp.domain import health as h
from webapp.extensions import db
from webapp.models import ProviderHealth
from webapp.models.base import utcnow
from webapp.services import health


def open_circuit(app, pid, error="The provider is having trouble (HTTP 503)."):
    with app.app_context():
        for _ in range(h.THRESHOLD):
            health.record(pid, health.SUBMIT, 1200, error)


def test_failures_open_the_circuit_for_every_process(app):
    pid = factories.provider(app)
    open_circuit(app, pid)
    with app.app_context():
        health.forget()  # another process: nothing cached, reads the database
        assert health.breaker(pid).state == h.OPEN
        assert not health.available_many([pid])[pid]
        assert health.admit(pid) == (False, False)
        assert "circuit is open after 5 failures" in health.open_reason(pid)


def _opened_elsewhere(pid) -> ProviderHealth:
    """A circuit another process opened (the row only: this process has not seen it)."""
    return ProviderHealth(
        provider_id=pid,
        state=h.OPEN,
        failures=h.THRESHOLD,
        cooldown=30.0,
        opened_until=utcnow() + timedelta(seconds=30),
    )


def test_another_process_opening_a_circuit_is_seen_within_the_view_time(app, monkeypatch):
    """Ranking a route reads each breaker at most every VIEW_SECONDS per process, all the
    stale ones in one query; a provider without a health row counts as closed."""
    pid, quiet = factories.provider(app), factories.provider(app, name="Quiet")
    with app.app_context():
        assert health.available_many([pid, quiet]) == {pid: True, quiet: True}
        db.session.add(_opened_elsewhere(pid))
        db.session.commit()  # another process opened it
        assert health.available_many([pid, quiet])[pid]  # this process's view is fresh
        clock = [0.0]
        monkeypatch.setattr("webapp.services.remembered.time.monotonic", lambda: 1e6 + clock[0])
        health.forget()  # from here on the clock is ours
        assert health.available_many([pid, quiet]) == {pid: False, quiet: True}  # read at 0
        db.session.add(_opened_elsewhere(quiet))
        db.session.commit()  # another process opens the other one too
        clock[0] = health.VIEW_SECONDS - 0.1
        assert health.available_many([pid, quiet]) == {pid: False, quiet: True}  # kept
        clock[0] = health.VIEW_SECONDS + 0.1
        assert health.available_many([pid, quiet]) == {pid: False, quiet: False}  # read again
        assert health.breaker(pid).state == h.OPEN
        clock[0] = 2 * health.VIEW_SECONDS
        health.reset(pid)  # this process's own change is seen at once
        assert health.available_many([pid]) == {pid: True}


def test_after_the_cooldown_one_probe_goes_and_its_success_closes(app):
    pid = factories.provider(app)
    open_circuit(app, pid)
    with app.app_context():
        db.session.execute(
            update(ProviderHealth).values(opened_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        health.forget()
        assert health.available_many([pid])[pid]
        assert health.admit(pid) == (True, True)  # this caller sends the probe
        health.forget()
        assert health.admit(pid) == (False, False)  # nobody else meanwhile
        health.record(pid, health.SUBMIT, 300, None, probe=True)
        health.forget()
        assert health.breaker(pid) == h.Breaker()


def test_a_success_ends_a_failure_streak(app):
    pid = factories.provider(app)
    with app.app_context():
        for _ in range(h.THRESHOLD - 1):
            health.record(pid, health.SUBMIT, 100, "HTTP 502")
        health.record(pid, health.SUBMIT, 100, None)
        health.record(pid, health.SUBMIT, 100, "HTTP 502")
        for _ in range(3 * h.THRESHOLD):  # failed status reads never open it
            health.record(pid, health.STATUS, 100, "HTTP 502")
        health.forget()
        assert health.breaker(pid).state == h.CLOSED and health.breaker(pid).failures == 1


def test_report_has_success_rate_and_latency_per_window(app):
    pid = factories.provider(app)
    with app.app_context():
        for ms in (40, 60, 80, 90):
            health.record(pid, health.SUBMIT, ms, None)
        health.record(pid, health.SUBMIT, 4000, "timeout")
        for _ in range(10):
            health.record(pid, health.STATUS, 20, None)
        rep = health.report([pid])[pid]
    hour = rep.windows[("submit", "hour")]
    assert hour.calls == 5 and hour.failures == 1 and hour.success_rate == 0.8
    assert 50 <= hour.p50 <= 100 and hour.p95 > 1000
    assert rep.windows[("status", "day")].calls == 10
    assert rep.last_error == "timeout"


def test_admin_page_shows_health_and_resets_the_circuit(app, client, auth):
    pid = factories.provider(app, name="Flaky gateway")
    auth.register("admin@example.com")
    open_circuit(app, pid, "The provider is having trouble (HTTP 503).")
    html = client.get("/admin/providers").get_data(as_text=True)
    assert "circuit open" in html and "Reset circuit" in html
    assert "The provider is having trouble (HTTP 503)." in html
    assert "p95" in html and "Last hour" in html
    resp = client.post(
        f"/admin/providers/{pid}/reset-circuit", data={"csrf_token": csrf_token_from(html)}
    )
    assert resp.status_code == 302
    html = client.get("/admin/providers").get_data(as_text=True)
    assert "circuit closed" in html and "Circuit of Flaky gateway closed" in html
    with app.app_context():
        health.forget()
        assert health.breaker(pid).state == h.CLOSED


def test_admin_sets_a_weight(app, client, auth):
    pid = factories.provider(app, name="Weighted")
    auth.register("admin@example.com")
    page = client.get(f"/admin/providers/{pid}").get_data(as_text=True)
    token = csrf_token_from(page)
    form = {
        "csrf_token": token,
        "name": "Weighted",
        "kind": "openai",
        "base_url": "http://127.0.0.1:9",
        "path_prefix": "/v1",
        "auth_style": "bearer",
        "model_map": '{"sora_video2": {"upstream": "sora-2"}}',
        "price_per_second": "0.1",
        "max_rps": "5",
        "priority": "10",
        "weight": "-2",
        "enabled": "on",
    }
    bad = client.post(f"/admin/providers/{pid}", data=form)
    assert bad.status_code == 422 and "Weight is a number from 0" in bad.get_data(as_text=True)
    form["weight"] = "3"
    assert client.post(f"/admin/providers/{pid}", data=form).status_code == 302
    assert "weight 3" in client.get("/admin/providers").get_data(as_text=True)
