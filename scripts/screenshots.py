"""Take the README's screenshots: a real app + simulator, driven by Chromium.

.venv/bin/python scripts/screenshots.py [out_dir]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, LiveServer  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.services import poller, sim_seed  # noqa: E402
from webapp.simulator.server import SimulatorServer  # noqa: E402

SIZES = {"desktop": (1280, 860), "phone": (390, 844)}


def _wait_until_done(app, video_id: str, limit: float = 60) -> None:
    from webapp.models import VideoTask

    end = time.monotonic() + limit
    while time.monotonic() < end:
        with app.app_context():
            task = db.session.scalar(db.select(VideoTask).where(VideoTask.video_id == video_id))
            if task.is_terminal:
                return
        with app.app_context():
            poller.run_until_idle(app)
        time.sleep(1)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    os.environ["REELAY_SIM_KEY"] = "sim-key"
    sim = SimulatorServer({"API_KEY": "sim-key", "QUEUE_SECONDS": 1, "RUN_SECONDS": 8})
    sim.start()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "shots",
            "SCHEDULER_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'shots.sqlite3'}",
            "ARCHIVE_DIR": str(tmp / "archive"),
            "POLL_INTERVAL_SECONDS": 1,
        }
    )
    with app.app_context():
        db.create_all()
        sim_seed.seed(sim.url)
    from webapp.services import scheduler

    scheduler.start(app)
    with LiveServer(app) as live, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        base = live.url

        def shot(name: str, url: str | None = None, wait: float = 0.3):
            """Desktop and phone, light and dark (the system preference the page follows)."""
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                for label, (w, h) in SIZES.items():
                    page.set_viewport_size({"width": w, "height": h})
                    if url:
                        page.goto(base + url)
                    time.sleep(wait)
                    suffix = "" if scheme == "light" else "-dark"
                    page.screenshot(path=str(out / f"{name}-{label}{suffix}.png"), full_page=True)
                    width = page.evaluate("document.documentElement.scrollWidth")
                    if width > w:
                        print(
                            f"WARNING: {name} at {w}px ({scheme}) scrolls horizontally ({width}px)"
                        )

        shot("home", "/")
        page.goto(base + "/auth/register")
        page.fill("#email", "ada@example.com")
        page.fill("#password", "correct horse")
        page.fill("#confirm", "correct horse")
        page.click("form button[type=submit]")
        page.wait_for_load_state()
        prompts = [
            "A paper boat drifting down a rainy neon street at dusk, cinematic",
            "Time-lapse of a glacier calving into a turquoise sea",
            "[fail] A famous cartoon mouse dancing",
            "A hummingbird hovering over a red flower, macro, slow motion",
        ]
        for p in prompts:
            page.goto(base + "/tasks/new")
            page.fill("#prompt", p)
            page.click("#submit-task")
            page.wait_for_load_state()
        shot("task-running", page.url.replace(base, ""), wait=2.5)
        running_url = page.url.replace(base, "")
        with app.app_context():
            from webapp.models import User
            from webapp.services import budgets

            budgets.set_user_caps(db.session.scalar(db.select(User)), {"monthly_spend": 25})
        page.goto(base + "/tasks/new")
        page.fill("#prompt", "A lighthouse in a storm, waves crashing, dramatic light")
        shot("new-task")
        _wait_until_done(app, running_url.rsplit("/", 1)[-1])
        shot("task", running_url, wait=1.5)
        shot("history", "/tasks")
        shot("gallery", "/tasks?view=grid")
        shot("stats", "/stats")
        shot("admin-providers", "/admin/providers")
        shot("admin-provider-form", "/admin/providers/new")
        shot("admin-stats", "/admin/stats")
        shot("admin-users", "/admin/users")
        shot("settings", "/settings/")
        browser.close()
    sim.stop()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
