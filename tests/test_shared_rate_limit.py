"""A provider's ``max requests per second`` holds for every process together: two
poller processes share its token bucket in the database, and the simulator, counting
when each request arrived, never sees more than the limit in any one second."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests import factories
from tests.lifecycle_support import SIM_KEY, user
from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import User, VideoTask
from webapp.services import tasks

pytest_plugins = ["tests.lifecycle_support"]

ROOT = Path(__file__).resolve().parent.parent
RATE = 4.0
N = 12


def busiest_second(arrivals: list[float]) -> int:
    """The most requests that arrived within any one-second window."""
    arrivals = sorted(arrivals)
    best, j = 0, 0
    for i, t in enumerate(arrivals):
        while arrivals[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_busiest_second_counts_a_sliding_window():
    assert busiest_second([0.0, 0.5, 0.99, 1.0, 1.2, 3.0]) == 4
    assert busiest_second([]) == 0


@pytest.mark.postgres
def test_two_poller_processes_share_the_limit(make_app, sim, backend, monkeypatch):
    if backend != "postgresql":
        pytest.skip("several processes share one database on PostgreSQL")
    sim.reset()
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=1, FAILURE_RATE=0, STATUS_LATENCY_MS=0)
    monkeypatch.setenv("REELAY_SIM_KEY", SIM_KEY)
    app = make_app()
    factories.provider(app, name="Sim", base_url=sim.url, key_env="REELAY_SIM_KEY", max_rps=RATE)
    uid = user(app)
    with app.app_context():
        u = db.session.get(User, uid)
        for i in range(N):
            tasks.create(
                u, tasks.NewTask(prompt=f"boat {i}", model="sora_video2", seconds=4), submit=False
            )
        db.session.execute(update(VideoTask).values(lease_owner=None, lease_until=None))
        db.session.commit()
        url = db.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "REELAY_SIM_KEY": SIM_KEY, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.poller_worker", url, "150"], cwd=ROOT, env=env
        )
        for _ in range(2)
    ]
    assert [p.wait(timeout=200) for p in procs] == [0, 0]
    with app.app_context():
        done = db.session.scalar(select(func.count()).where(VideoTask.status == st.COMPLETED))
    assert done == N
    arrivals = sim.stats()["arrivals"]
    assert len(arrivals) >= 3 * N  # a create, polls and the download of each
    # A bucket of one token: at most 1 + rate × T requests in any T seconds.
    assert busiest_second(arrivals) <= RATE + 1, busiest_second(arrivals)
    # ... and the limit is what paced them: the run took at least requests / rate.
    assert max(arrivals) - min(arrivals) >= (len(arrivals) - 1) / RATE - 1
