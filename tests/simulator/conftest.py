"""Fixtures for the simulator's own tests: one SimulatorServer per test module, reset
before each test; time is moved with ``advance`` rather than slept through."""

from __future__ import annotations

import pytest
import requests
from sim_helpers import KEY

from webapp.simulator.server import SimulatorServer

FAST = {"QUEUE_SECONDS": 1, "RUN_SECONDS": 4, "FAILURE_RATE": 0, "STATUS_LATENCY_MS": 0}


@pytest.fixture(scope="module")
def simsrv():
    with SimulatorServer({"API_KEY": KEY, **FAST}) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(request):
    if "simsrv" in request.fixturenames:
        server = request.getfixturevalue("simsrv")
        server.reset()
        server.set_config(POLL_AFTER_MS=None, EXPIRE_SECONDS=3600, **FAST)
    yield


@pytest.fixture
def http():
    with requests.Session() as s:
        yield s
