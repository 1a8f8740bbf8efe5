"""The built-in simulator: a faithful fake upstream with its own small WSGI app.

It speaks the OpenAI-Videos (at /v1 and /sora/v1), fal queue (/fal), Replicate
(/v1/predictions) and Gemini (/v1beta) wire formats, advances jobs over time,
renders real playable media and injects faults on demand (see ``control.py``).

    flask --app webapp.simulator run -p 8001      or      python -m webapp.simulator
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
