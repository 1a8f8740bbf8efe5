"""A separate poller process for the concurrency test: `python -m tests.poller_worker URL SECONDS`."""

import sys
import time

from sqlalchemy import func, select

from webapp import create_app
from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import VideoTask
from webapp.services import poller


def main(db_url: str, limit_seconds: float) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": db_url,
            "SCHEDULER_ENABLED": False,
            "POLL_BATCH": 40,
            "POLL_WORKERS": 8,
            "UPSTREAM_READ_TIMEOUT": 10.0,
        }
    )
    end = time.monotonic() + limit_seconds
    while time.monotonic() < end:
        poller.run_once(app)
        with app.app_context():
            left = db.session.scalar(select(func.count()).where(VideoTask.status.in_(st.ACTIVE)))
            db.session.commit()
        if not left:
            return
        time.sleep(0.2)
    sys.exit("tasks left unfinished")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
