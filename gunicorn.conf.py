"""gunicorn settings; every value can be overridden with GUNICORN_* style env vars below."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process by default: rate limits then hold with the in-memory store. More workers
# (or hosts) need a shared store: RATELIMIT_STORAGE_URI=redis://… (checked below).
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# gunicorn's control socket defaults to one fixed path per user, which two instances on
# a host would share: off unless GUNICORN_CONTROL_SOCKET names this instance's own.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
# Content downloads stream from the archive; keep worker memory flat.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500


def post_worker_init(worker):
    """Start the poller's scheduler in each worker (unless REELAY_SCHEDULER=off). Safe
    with any number of workers and hosts: the poller leases the tasks it works on."""
    import gc

    from webapp.services import scheduler

    # Everything loaded so far (models, templates, the app) lives as long as the worker:
    # keep it out of the collector's full passes, which otherwise walk it mid-request.
    gc.freeze()
    app = worker.wsgi
    if app.config.get("SCHEDULER_ENABLED"):
        scheduler.start(app)


def on_starting(server):
    """Refuse a set-up in which the configured limits would not hold: with several
    workers each would count on its own, letting N times the limit through."""
    storage = os.environ.get("RATELIMIT_STORAGE_URI", "memory://").strip() or "memory://"
    if server.cfg.workers > 1 and storage.startswith("memory://"):
        raise SystemExit(
            f"Reelay: {server.cfg.workers} gunicorn workers with in-memory rate limits would "
            "let each worker count on its own. Set RATELIMIT_STORAGE_URI=redis://host:6379 "
            "(shared by every worker and host), or run one worker (GUNICORN_WORKERS=1)."
        )


def when_ready(server):
    """Say where Reelay is only once it listens: the pages, the providers, who the
    admin will be, and how many workers really run."""
    host, _, port = str(server.cfg.bind[0]).rpartition(":")
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    lines = [f"Reelay is listening on {base}"]
    lines.append(
        f"  pages: {base}/auth/register (sign up), {base}/auth/login, {base}/tasks/new, "
        f"{base}/tasks (history), {base}/admin"
    )
    try:
        from webapp import create_app
        from webapp.services import startup

        lines += ["  " + line for line in startup.summary(create_app())]
    except Exception as exc:  # noqa: BLE001 - a banner must never stop the server
        lines.append(f"  (could not read the providers: {type(exc).__name__})")
    workers, threads = server.cfg.workers, server.cfg.threads
    lines.append(
        f"  {workers} worker{'s' if workers != 1 else ''} x {threads} threads"
        + (", the poller runs in each" if os.environ.get("REELAY_SCHEDULER", "on") != "off" else "")
    )
    server.log.info("\n".join(lines))
