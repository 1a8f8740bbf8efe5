"""JSON APIs: the replaced backend's routes (/api) and the OpenAI Videos API (/v1)."""

from flask import Flask


def register_api(app: Flask) -> None:
    from . import compat, openai_videos, spec

    # The gateway query routes (/v1/videos/query) must win over /v1/videos/<id>.
    app.register_blueprint(compat.bp)
    app.register_blueprint(openai_videos.bp)
    spec.register(app)  # /api/openapi.json, generated from the models in schemas.py
