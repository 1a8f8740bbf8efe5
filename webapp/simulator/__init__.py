"""The built-in simulator: a faithful fake upstream with its own small WSGI app.

    flask --app webapp.simulator run -p 8001      or      python -m webapp.simulator --port 8001

Protocols (one key, ``config["API_KEY"]``, default $REELAY_SIM_KEY or "sim-key"):

- OpenAI Videos as OpenAI served it at ``/v1``, as new-api serves it at ``/newapi/v1``, as
  the LiteLLM proxy does at ``/litellm/v1`` and as a Sora relay does at ``/sora/v1``
  (``Authorization: Bearer <key>`` or raw ``<key>``; see ``openai_routes.py``)
- fal queue at ``/fal/{owner}/{app}[/{path}]`` (``Authorization: Key <key>``)
- Replicate at ``/v1/predictions``, ``/v1/models/{o}/{n}/predictions`` (``Bearer``/``Token``)
- Gemini at ``/v1beta/models/{model}:predictLongRunning|:generateContent``
  (``x-goog-api-key`` header or ``?key=``)
- OpenRouter at ``/api/v1/videos`` (``Bearer``)
- Veo on Vertex AI at ``/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/
  {m}:predictLongRunning|:fetchPredictOperation``, its OAuth token at ``/token`` and the
  Cloud Storage download at ``/storage/v1/b/{bucket}/o/{object}``

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

    from . import (
        control,
        fal_routes,
        gemini_routes,
        openai_routes,
        openrouter_routes,
        replicate_routes,
        vertex_routes,
    )

    app.register_blueprint(replicate_routes.bp)  # /v1/predictions before the OpenAI /v1 routes
    openai_routes.register(app)  # /v1, /newapi/v1, /litellm/v1, /sora/v1
    app.register_blueprint(fal_routes.bp)
    app.register_blueprint(gemini_routes.bp)  # /v1beta (google-genai 2.x)
    app.register_blueprint(gemini_routes.bp, url_prefix="/v1", name="sim_gemini_v1")  # 3.x
    app.register_blueprint(openrouter_routes.bp)
    app.register_blueprint(vertex_routes.bp)
    app.register_blueprint(control.bp)

    @app.errorhandler(404)
    def not_found(exc):
        """Google's APIs answer an unknown path with JSON, not an HTML page."""
        from flask import request

        if request.path.startswith(("/v1beta/", "/v1/models", "/v1/projects", "/v1beta1/")):
            body, status = gemini_routes.error(404, f"Method not found: {request.path}.")
            return body, status
        return exc

    return app
