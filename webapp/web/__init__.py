"""Blueprints that render HTML pages and HTMX fragments."""

from flask import Flask


def register_web(app: Flask) -> None:
    from . import admin, auth, errors, filters, health, main, security, settings, tasks

    security.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    auth.init_login(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp, url_prefix="/auth")
    app.register_blueprint(main.bp)
    app.register_blueprint(settings.bp, url_prefix="/settings")
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(tasks.bp)
