"""The built-in simulator: a faithful fake upstream with its own small WSGI app.

    flask --app webapp.simulator run -p 8001      or      python -m webapp.simulator --port 8001

Protocols (one key, ``config["API_KEY"]``, default $REELAY_SIM_KEY or "sim-key"):

- OpenAI Videos at ``/v1`` and ``/sora/v1`` (``Authorization: Bearer <key>`` or raw ``<key>``)
- fal queue at ``/fal/{owner}/{app}[/{path}]`` (``Authorization: Key <key>``)
- Replicate at ``/v1/predictions``, ``/v1/models/{o}/{n}/predictions`` (``Bearer``/``Token``)
- Gemini at ``/v1beta/models/{model}:predictLongRunning|:generateContent``
  (``x-goog-api-key`` header or ``?key=``)

Jobs advance on a skippable clock (QUEUE_SECONDS, RUN_SECONDS; ``[fail]`` and ``[slow]`` in a
prompt fail it or make it 5x slower), results are real media (``media.py``) that expire after
EXPIRE_SECONDS. Config keys: see ``state.DEFAULTS``. Test controls, with no auth (this is a
local test tool: bind it to 127.0.0.1), are in ``control.py``:

    GET|POST /_sim/config      merge config keys            POST /_sim/reset  jobs, counters, faults
    GET|POST|DELETE /_sim/faults  queue faults, in order    GET  /_sim/stats  counters
    POST /_sim/advance {"seconds": N}                        POST /_sim/jobs/{id}/expire
"""

from __future__ import annotations

from flask import Flask

from .state import State


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    app.extensions["sim_state"] = State(config)

    from . import control, fal_routes, gemini_routes, openai_routes, replicate_routes

    app.register_blueprint(replicate_routes.bp)  # /v1/predictions before the OpenAI /v1 routes
    app.register_blueprint(openai_routes.make_blueprint("sim_openai", "/v1"))
    app.register_blueprint(openai_routes.make_blueprint("sim_openai_sora", "/sora/v1"))
    app.register_blueprint(fal_routes.bp)
    app.register_blueprint(gemini_routes.bp)
    app.register_blueprint(control.bp)
    return app
