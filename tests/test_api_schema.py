"""Schemathesis drives every route in /api/openapi.json with generated input: no
request, however odd, may produce a server error. (SQLite; one app for the module.)"""

from __future__ import annotations

import os
import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from webapp import create_app
from webapp.extensions import db
from webapp.services import accounts, sim_seed
from webapp.simulator.server import SimulatorServer


def _app():
    os.environ.setdefault("REELAY_SIM_KEY", "sim-key")
    sim = SimulatorServer(
        {"API_KEY": os.environ["REELAY_SIM_KEY"], "QUEUE_SECONDS": 0, "RUN_SECONDS": 1}
    ).start()
    tmp = tempfile.mkdtemp()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "fuzz",
            "SCHEDULER_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/fuzz.sqlite3",
            "ARCHIVE_DIR": f"{tmp}/archive",
            "API_RATE_LIMIT": "100000 per minute",
            "LOGIN_RATE_LIMIT": "100000 per minute",
            "UPSTREAM_READ_TIMEOUT": 5.0,
        }
    )
    with app.app_context():
        db.create_all()
        sim_seed.seed(sim.url)
        user = accounts.register("fuzz@example.com", "correct horse")
        app.config["_FUZZ_TOKEN"] = accounts.create_token(user, "fuzz")[1]
    return app


APP = _app()
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {APP.config['_FUZZ_TOKEN']}"},
        checks=[not_a_server_error],
    )
