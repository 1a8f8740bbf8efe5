"""Fixtures for tests that drive real tasks against the simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import User, VideoTask
from webapp.models.base import utcnow
from webapp.services import accounts, poller, sim_seed, tasks, throttle

SIM_KEY = "sim-key"


@pytest.fixture(scope="session")
def sim():
    from webapp.simulator.server import SimulatorServer

    server = SimulatorServer({"API_KEY": SIM_KEY, "QUEUE_SECONDS": 0, "RUN_SECONDS": 2})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vertex_key_file(tmp_path_factory):
    """Where the simulator's service-account key file goes (made once per run)."""
    return str(tmp_path_factory.mktemp("vertex") / "sim-vertex-key.json")


@pytest.fixture
def sim_app(make_app, sim, monkeypatch, vertex_key_file):
    sim.reset()
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=2, FAILURE_RATE=0, STATUS_LATENCY_MS=0)
    monkeypatch.setenv("REELAY_SIM_KEY", SIM_KEY)
    monkeypatch.setenv("REELAY_SIM_VERTEX_CREDENTIALS", vertex_key_file)
    throttle.reset()
    app = make_app(UPSTREAM_READ_TIMEOUT=2.0, UPSTREAM_CONNECT_TIMEOUT=1.0, POLL_WORKERS=8)
    with app.app_context():
        sim_seed.seed(sim.url)
    return app


def user(app, email="ada@example.com") -> int:
    with app.app_context():
        existing = db.session.scalar(select(User).where(User.email == email))
        if existing:
            return existing.id
        return accounts.register(email, "correct horse").id


def create(app, user_id, prompt="a paper boat in the rain", model="sora_video2", **kw):
    with app.app_context():
        u = db.session.get(User, user_id)
        task, created = tasks.create(u, tasks.NewTask(prompt=prompt, model=model, **kw))
        return task.video_id


def unsent(app, user_id, prompt="a paper boat in the rain") -> tuple[int, str]:
    """A committed QUEUED task nobody has submitted yet, with no lease: (id, video_id)."""
    with app.app_context():
        u = db.session.get(User, user_id)
        task, _ = tasks.create(u, tasks.NewTask(prompt=prompt, model="sora_video2"), submit=False)
        db.session.execute(
            update(VideoTask).where(VideoTask.id == task.id).values(lease_until=None)
        )
        db.session.commit()
        return task.id, task.video_id


def get(app, video_id) -> VideoTask:
    with app.app_context():
        task = db.session.scalar(select(VideoTask).where(VideoTask.video_id == video_id))
        db.session.expunge(task)
        return task


def make_due(app, video_id=None):
    """Pretend the wait is over: everything (or one task) is due now."""
    with app.app_context():
        stmt = update(VideoTask).values(next_poll_at=utcnow())
        if video_id:
            stmt = stmt.where(VideoTask.video_id == video_id)
        stmt = stmt.where(VideoTask.next_poll_at.is_not(None))
        db.session.execute(stmt)
        db.session.commit()


def past_deadline(app, video_id):
    """Pretend the task's deadline has just passed."""
    with app.app_context():
        db.session.execute(
            update(VideoTask)
            .where(VideoTask.video_id == video_id)
            .values(deadline_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def sweep(app, sim=None, advance=0, rounds=1):
    for _ in range(rounds):
        if sim and advance:
            sim.advance(advance)
        make_due(app)
        poller.run_once(app)


def finish(app, sim, video_id, max_rounds=20):
    for _ in range(max_rounds):
        task = get(app, video_id)
        if task.is_terminal and not task.pending_action:
            return task
        sweep(app, sim, advance=5)
    return get(app, video_id)


def events(app, video_id) -> list[str]:
    with app.app_context():
        task = db.session.scalar(select(VideoTask).where(VideoTask.video_id == video_id))
        return [e.message for e in task.events]
