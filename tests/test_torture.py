"""Exactly once, proven by randomized fault schedules on PostgreSQL (see
tests/torture_support.py for what a schedule does and the invariants it checks).

Hypothesis draws the schedules' seeds (derandomized, so CI runs the same ones every
time); a failure prints the seed and the schedule, and ``python bench/torture.py
--seed N`` replays it. ``REELAY_TORTURE_SCHEDULES`` sets how many run here (default 3);
bench/torture.py runs many more.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as hs

from .conftest import PG_URL
from .torture_support import generate, run

SCHEDULES = int(os.environ.get("REELAY_TORTURE_SCHEDULES", "3"))

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def torture_sim():
    from webapp.simulator.server import SimulatorServer

    with SimulatorServer({"API_KEY": "sim-key"}) as server:
        yield server


@pytest.mark.skipif(PG_URL is None, reason="PostgreSQL not reachable")
@settings(
    max_examples=SCHEDULES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.generate],  # a schedule is real time and processes: no shrinking
    suppress_health_check=list(HealthCheck),
)
@given(seed=hs.integers(min_value=0, max_value=2**31 - 1))
def test_fault_schedules_keep_every_invariant(torture_sim, tmp_path_factory, seed):
    from .bench_ports import free_port

    schedule = generate(seed)
    workdir = tmp_path_factory.mktemp(f"torture-{seed}")
    report = run(schedule, PG_URL, torture_sim, workdir, free_port())
    assert report.tasks > 0 and report.upstream_jobs > 0
    assert report.ok, (
        f"seed {seed} broke an invariant (replay: python bench/torture.py --seed {seed}):\n"
        + "\n".join(report.details[:20])
        + f"\nschedule: {schedule.describe()}\nlogs: {workdir}"
    )
