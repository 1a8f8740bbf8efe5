"""Two poller processes against one PostgreSQL database: every upstream job is created
exactly once and every task ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import User, VideoTask
from webapp.services import tasks

from .lifecycle_support import user

ROOT = Path(__file__).resolve().parent.parent
N = 300


@pytest.mark.postgres
def test_two_poller_processes_300_tasks(sim_app, sim, backend):
    if backend != "postgresql":
        pytest.skip("the multi-process guarantee is proven on PostgreSQL")
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=1)
    uid = user(sim_app)
    with sim_app.app_context():
        u = db.session.get(User, uid)
        ids = []
        for _i in range(N):
            task, _ = tasks.create(
                u,
                tasks.NewTask(prompt="a crowd of paper boats", model="sora_video2", seconds=4),
                submit=False,
            )
            ids.append(task.video_id)
        # Release the inline leases: both workers start from a clean queue.
        db.session.execute(VideoTask.__table__.update().values(lease_owner=None, lease_until=None))
        db.session.commit()
        url = db.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "REELAY_SIM_KEY": "sim-key", "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.poller_worker", url, "240"], cwd=ROOT, env=env
        )
        for _ in range(2)
    ]
    codes = [p.wait(timeout=300) for p in procs]
    assert codes == [0, 0]
    stats = sim.stats()
    counts = [stats["created_by_key"].get(v, 0) for v in ids]
    assert counts == [1] * N, f"duplicates: {[c for c in counts if c != 1][:5]}"
    with sim_app.app_context():
        done = db.session.scalar(select(func.count()).where(VideoTask.status == st.COMPLETED))
        assert done == N
