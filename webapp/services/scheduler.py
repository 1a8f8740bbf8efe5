"""The in-process APScheduler job that drives the poller.

One interval job per process (max_instances=1, coalesce, jitter). Running it in
several gunicorn workers or hosts is safe because the poller leases tasks; set
REELAY_SCHEDULER=off to keep a process out of it, or run `flask poller run` alone.
"""

from __future__ import annotations

import atexit
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

log = logging.getLogger(__name__)


def _tick(app: Flask) -> None:
    from . import poller

    try:
        # Drain what is due now, up to a bound, so a backlog clears quickly.
        for _ in range(20):
            if not poller.run_once(app).full:
                break
    except Exception:  # noqa: BLE001 - never let the scheduler thread die
        log.exception("poller sweep failed")


def start(app: Flask) -> BackgroundScheduler:
    if "reelay_scheduler" in app.extensions:
        return app.extensions["reelay_scheduler"]
    interval = app.config["POLL_INTERVAL_SECONDS"]
    sched = BackgroundScheduler(daemon=True, timezone="UTC")
    sched.add_job(
        _tick,
        "interval",
        args=[app],
        seconds=interval,
        id="reelay-poller",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(int(interval * 2), 5),
        jitter=max(interval / 4, 0.1),
    )
    sched.start()
    app.extensions["reelay_scheduler"] = sched
    atexit.register(lambda: sched.running and sched.shutdown(wait=False))
    log.info("poller scheduled every %.1fs", interval)
    return sched
