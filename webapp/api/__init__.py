"""JSON APIs: the replaced backend's routes (/api) and the OpenAI Videos API (/v1)."""

from flask import Flask


def register_api(app: Flask) -> None:
    try:
        from . import compat, openai_videos
    except ImportError:  # pragma: no cover - added by the API work
        return
    app.register_blueprint(compat.bp)
    app.register_blueprint(openai_videos.bp)
