"""gunicorn settings; every value can be overridden with GUNICORN_* style env vars below."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# Content downloads stream from the archive; keep worker memory flat.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500


def post_worker_init(worker):
    """Start the poller's scheduler in each worker (unless REELAY_SCHEDULER=off). Safe
    with any number of workers and hosts: the poller leases the tasks it works on."""
    from webapp.services import scheduler

    app = worker.wsgi
    if app.config.get("SCHEDULER_ENABLED"):
        scheduler.start(app)
