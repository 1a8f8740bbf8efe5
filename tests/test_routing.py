"""Routing and failover at create, driven against the simulator.

Two or three providers offer ``sora_video2``; whichever one definitely did not accept
the job (refused connection, DNS failure, 5xx, 429, key unset, circuit open, key
refused), the task moves on to the next at once, each hop on its timeline. After an
ambiguous create it does not move; once accepted it stays.
"""

from __future__ import annotations

import socket
from collections import Counter

import pytest
from sqlalchemy import select

from tests import factories
from tests.lifecycle_support import SIM_KEY, events, finish, get, sweep, unsent, user
from webapp.domain import health as h
from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import Provider, SubmitAttempt, User
from webapp.services import health, tasks

pytest_plugins = ["tests.lifecycle_support"]

DEAD = "http://127.0.0.1:9"  # nothing listens there: connection refused


@pytest.fixture
def app(make_app, sim, monkeypatch):
    sim.reset()
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=2, FAILURE_RATE=0, STATUS_LATENCY_MS=0)
    monkeypatch.setenv("REELAY_SIM_KEY", SIM_KEY)
    return make_app(
        UPSTREAM_READ_TIMEOUT=2.0,
        UPSTREAM_CONNECT_TIMEOUT=1.0,
        POLL_WORKERS=4,
        RETRY_BASE_SECONDS=1.0,
    )


def gateway(app, name, base_url, priority=100, weight=1.0, key_env="REELAY_SIM_KEY") -> int:
    return factories.provider(
        app,
        name=name,
        base_url=base_url,
        key_env=key_env,
        priority=priority,
        weight=weight,
        max_rps=1000,
        model_map={"sora_video2": {"upstream": "sora-2", "size": "1280x720", "seconds": 8}},
    )


def make(app, uid, **kw) -> str:
    with app.app_context():
        u = db.session.get(User, uid)
        task, _ = tasks.create(u, tasks.NewTask(prompt="a paper boat", model="sora_video2", **kw))
        return task.video_id


def provider_of(app, video_id) -> str:
    with app.app_context():
        t = get(app, video_id)
        return db.session.get(Provider, t.provider_id).name


def upstream_jobs(sim) -> int:
    return len(sim.ledger())


def test_connection_refused_moves_to_the_next_provider(app, sim):
    gateway(app, "Dead", DEAD, priority=10)
    gateway(app, "Sim", sim.url, priority=20)
    uid = user(app)
    vid = make(app, uid)
    task = get(app, vid)
    assert task.status == st.PROCESSING and provider_of(app, vid) == "Sim"
    said = events(app, vid)
    assert any("Dead did not take it" in e and "sending it to Sim" in e for e in said), said
    assert finish(app, sim, vid).status == st.COMPLETED
    assert upstream_jobs(sim) == 1


def test_dns_failure_moves_on(app, sim, monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *a, **kw):
        if host == "gone.example.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    gateway(app, "Nowhere", "http://gone.example.invalid", priority=10)
    gateway(app, "Sim", sim.url, priority=20)
    vid = make(app, user(app))
    assert provider_of(app, vid) == "Sim" and get(app, vid).status == st.PROCESSING


@pytest.mark.parametrize("kind", ["503", "500", "429"])
def test_5xx_and_429_before_acceptance_move_on(app, sim, kind):
    # Both providers are the simulator; the fault hits the first create only.
    gateway(app, "First", sim.url, priority=10)
    gateway(app, "Second", sim.url + "/", priority=20)
    sim.add_faults([{"op": "create", "kind": kind, "count": 1}])
    vid = make(app, user(app))
    assert provider_of(app, vid) == "Second" and get(app, vid).status == st.PROCESSING
    assert upstream_jobs(sim) == 1


def test_key_unset_is_not_offered_and_moves_on_when_it_goes_missing(app, sim, monkeypatch):
    gateway(app, "Keyless", sim.url, priority=10, key_env="MISSING_GATEWAY_KEY")
    gateway(app, "Sim", sim.url, priority=20)
    with app.app_context():
        from webapp.services import catalog

        offered = {o.provider.name for o in catalog.offers()}
    assert offered == {"Sim"}, "a provider whose key variable is unset is not offered"

    # Offered when the task was made, gone by the time it is sent.
    monkeypatch.setenv("MISSING_GATEWAY_KEY", SIM_KEY)
    _, vid = unsent(app, user(app))
    assert provider_of(app, vid) == "Keyless"
    monkeypatch.delenv("MISSING_GATEWAY_KEY")
    sweep(app)
    assert provider_of(app, vid) == "Sim"
    assert any("its API key is not set" in e for e in events(app, vid))


def test_admin_page_says_a_keyless_provider_is_not_offered(app, auth, client):
    gateway(app, "Keyless", DEAD, key_env="MISSING_GATEWAY_KEY")
    auth.register("admin@example.com")
    page = client.get("/admin/providers").get_data(as_text=True)
    assert "Not offered" in page and "$MISSING_GATEWAY_KEY" in page


def test_open_circuit_ranks_last_and_refuses_at_submit(app, sim):
    first = gateway(app, "First", sim.url, priority=10)
    gateway(app, "Second", sim.url, priority=20)
    with app.app_context():
        for _ in range(h.THRESHOLD):
            health.record(first, health.SUBMIT, 900, "The provider is having trouble (HTTP 503).")
    # Routing puts the available provider first, whatever the priority.
    vid = make(app, user(app))
    assert provider_of(app, vid) == "Second"
    with app.app_context():
        assert get(app, vid).upstream_data["route"]["stops"][1][1] == "First"

    # A task routed before the circuit opened is refused at submit and moves on.
    with app.app_context():
        health.reset(first)
    _, vid2 = unsent(app, user(app), "b")
    with app.app_context():
        for _ in range(h.THRESHOLD):
            health.record(first, health.SUBMIT, 900, "HTTP 503")
    assert provider_of(app, vid2) == "First"
    sweep(app)
    assert provider_of(app, vid2) == "Second"
    assert any("circuit is open" in e for e in events(app, vid2))


def test_refused_key_moves_on(app, sim, monkeypatch):
    monkeypatch.setenv("WRONG_GATEWAY_KEY", "not-the-key")
    gateway(app, "Wrong key", sim.url, priority=10, key_env="WRONG_GATEWAY_KEY")
    gateway(app, "Sim", sim.url, priority=20)
    vid = make(app, user(app))
    assert provider_of(app, vid) == "Sim" and get(app, vid).status == st.PROCESSING
    assert any("Wrong key did not take it" in e for e in events(app, vid))


def test_no_failover_after_an_ambiguous_create(app, sim):
    gateway(app, "First", sim.url, priority=10)
    gateway(app, "Second", sim.url, priority=20)
    sim.add_faults([{"op": "create", "kind": "drop_after_create", "count": 1}])
    vid = make(app, user(app))
    task = get(app, vid)
    assert provider_of(app, vid) == "First" and task.status == st.QUEUED
    assert task.error_code == "upstream_ambiguous"
    done = finish(app, sim, vid)
    # Reconciled to the job the lost answer made, on the same provider: never resent.
    assert done.status == st.COMPLETED and provider_of(app, vid) == "First"
    assert upstream_jobs(sim) == 1


def test_accepted_task_stays_with_its_provider(app, sim):
    gateway(app, "First", sim.url, priority=10)
    gateway(app, "Second", sim.url, priority=20)
    vid = make(app, user(app))
    assert provider_of(app, vid) == "First"
    sim.add_faults([{"op": "status", "kind": "503", "count": 3}])
    done = finish(app, sim, vid)
    assert done.status == st.COMPLETED and provider_of(app, vid) == "First"


def test_every_provider_down_fails_with_each_reason(app, sim, make_app):
    app.config["SUBMIT_WINDOW_SECONDS"] = 0  # give up after the first full round
    gateway(app, "Dead", DEAD, priority=10)
    gateway(app, "Busy", sim.url, priority=20)
    sim.add_faults([{"op": "create", "kind": "503", "count": 1}])
    vid = make(app, user(app))
    task = get(app, vid)
    assert task.status == st.FAILED and task.error_code == "no_provider_accepted"
    msg = task.error_message
    assert msg.startswith("No provider accepted the task.")
    assert "Dead: The provider could not be reached" in msg
    assert "Busy: The provider is having trouble (HTTP 503)" in msg
    assert upstream_jobs(sim) == 0
    with app.app_context():
        attempts = db.session.scalars(select(SubmitAttempt)).all()
        assert {a.state for a in attempts} == {"refused"}


def test_a_round_without_a_taker_waits_then_starts_again(app, sim):
    gateway(app, "First", sim.url, priority=10)
    gateway(app, "Second", sim.url, priority=20)
    sim.add_faults([{"op": "create", "kind": "503", "count": 2}])
    vid = make(app, user(app))
    task = get(app, vid)
    assert task.status == st.QUEUED and provider_of(app, vid) == "First"
    assert any("No provider took it this round" in e for e in events(app, vid))
    sweep(app)
    assert get(app, vid).status == st.PROCESSING and provider_of(app, vid) == "First"


def test_pinned_provider_is_the_only_stop(app, sim):
    gateway(app, "Dead", DEAD, priority=10)
    sim_id = gateway(app, "Sim", sim.url, priority=20)
    with app.app_context():
        dead = db.session.scalar(select(Provider.id).where(Provider.name == "Dead"))
    app.config["SUBMIT_WINDOW_SECONDS"] = 0
    vid = make(app, user(app), provider_id=dead)
    task = get(app, vid)
    assert task.status == st.FAILED and provider_of(app, vid) == "Dead"
    assert task.error_message == "The provider could not be reached."
    vid2 = make(app, user(app), provider_id=sim_id)
    assert provider_of(app, vid2) == "Sim"


def test_weights_share_creates_among_equal_priority(app, sim):
    gateway(app, "Heavy", sim.url, priority=10, weight=3)
    gateway(app, "Light", sim.url, priority=10, weight=1)
    gateway(app, "Fallback", sim.url, priority=10, weight=0)
    tasks._rng.seed(1234)
    with app.app_context():
        firsts = Counter()
        for _ in range(400):
            route = tasks._plan(tasks.NewTask(prompt="x", model="sora_video2")).route
            firsts[route[0].provider.name] += 1
            assert route[-1].provider.name == "Fallback"
    assert firsts["Fallback"] == 0
    assert 0.68 <= firsts["Heavy"] / 400 <= 0.82, firsts  # 3 / 4 expected


def test_priority_orders_the_route(app, sim):
    gateway(app, "Second", sim.url, priority=20)
    gateway(app, "First", sim.url, priority=10)
    with app.app_context():
        route = tasks._plan(tasks.NewTask(prompt="x", model="sora_video2")).route
    assert [o.provider.name for o in route] == ["First", "Second"]


def test_v1_api_is_routed(app, sim, client):
    from webapp.services import accounts

    gateway(app, "Dead", DEAD, priority=10)
    gateway(app, "Sim", sim.url, priority=20)
    with app.app_context():
        u = db.session.get(User, user(app))
        _, clear = accounts.create_token(u, "t")
    resp = client.post(
        "/v1/videos",
        json={"prompt": "a boat", "model": "sora-2", "seconds": "8", "size": "1280x720"},
        headers={"Authorization": f"Bearer {clear}"},
    )
    assert resp.status_code == 200, resp.get_json()
    assert provider_of(app, resp.get_json()["id"]) == "Sim"
