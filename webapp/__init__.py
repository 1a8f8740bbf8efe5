"""Reelay: a self-hosted dashboard that relays AI video generation jobs upstream."""

from __future__ import annotations

import logging

from flask import Flask

from . import config as config_module
from .extensions import csrf, db, htmx, limiter, login_manager, migrate
from .templating import FlatGlobalsEnvironment


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_path=str(config_module.INSTANCE_DIR),
    )
    app.jinja_environment = FlatGlobalsEnvironment  # before anything touches jinja_env
    settings = config_module.load_config()
    settings.update(config or {})
    app.config.update(config_module.finalize(settings))
    _configure_logging(app)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)

    from . import cli, postgres, read_only, request_guard, sqlite
    from .api import register_api
    from .web import register_web

    sqlite.init_app(app)
    postgres.init_app(app)
    read_only.init_app(app)
    request_guard.init_app(app)
    register_web(app)
    register_api(app)
    cli.init_app(app)
    # No scheduler here: importing the app (for `flask db upgrade`, a shell, tests)
    # must not start background polling. gunicorn starts it in each worker
    # (gunicorn.conf.py), `flask poller run` runs it on its own.
    return app


def _configure_logging(app: Flask) -> None:
    level = app.config["LOG_LEVEL"]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    app.logger.setLevel(level)
