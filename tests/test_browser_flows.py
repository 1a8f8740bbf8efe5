"""The dashboard in Debian's Chromium: submit → live progress → playable video →
refresh → remix; history paging and filters; admin stats; phone width."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from webapp.domain import statuses as st
from webapp.services import scheduler

from . import factories
from .browser_support import LiveServer, chromium, register

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(sim_app, backend):
    with chromium(backend) as b:
        yield b


@pytest.fixture
def live(sim_app, sim):
    sim_app.config["POLL_INTERVAL_SECONDS"] = 0.5
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=8, POLL_AFTER_MS=1000)
    scheduler.start(sim_app)
    with LiveServer(sim_app) as server:
        yield server
    sim_app.extensions["reelay_scheduler"].shutdown(wait=False)
    sim.set_config(POLL_AFTER_MS=None)


def progress_value(page) -> int:
    el = page.query_selector("#task-live progress")
    return int(el.get_attribute("value")) if el else 100


def test_submit_watch_play_refresh_remix(browser, live, sim):
    page = browser.new_page()
    page.add_init_script(
        "window.__violations = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || '')));"
    )
    console = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    register(page, live.url)
    page.goto(live.url + "/tasks/new")
    page.fill("#prompt", "A paper boat drifting down a rainy street")
    assert "41 / 32,000" in page.inner_text("#prompt-count")
    page.select_option("#seconds", "4")
    assert "Estimated cost: $0.40" in page.inner_text("#estimate")
    page.dblclick("#submit-task")  # a double-click still makes one task
    page.wait_for_url(re.compile(r"/tasks/video_[0-9a-f]{32}$"))
    video_id = page.url.rsplit("/", 1)[-1]

    seen = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = page.get_attribute("#task-live", "data-status")
        seen.add(progress_value(page))
        if status == "COMPLETED":
            break
        time.sleep(0.4)
    assert page.get_attribute("#task-live", "data-status") == "COMPLETED"
    assert len({v for v in seen if 0 < v < 100}) >= 1, f"progress never advanced visibly: {seen}"
    assert sim.stats()["created_total"] == 1

    ready, duration = page.eval_on_selector(
        "#player",
        """v => new Promise(done => {
            const report = () => done([v.readyState, v.duration]);
            if (v.readyState >= 1) report(); else v.addEventListener('loadedmetadata', report);
            setTimeout(report, 8000);
        })""",
    )
    assert ready >= 1 and duration > 1, (ready, duration)

    page.click("text=Refresh URL")
    page.wait_for_selector(".refreshed", timeout=15000)
    assert "Refreshed" in page.inner_text("#refresh-info")

    page.click(".remix-form button[type=submit]")  # empty: refused next to the field
    expect(page.locator("#remix-error")).to_be_visible()
    assert page.evaluate("window.__violations") == []
    page.fill("#remix-prompt", "The same boat, at night")
    page.click(".remix-form button[type=submit]")
    page.wait_for_url(lambda url: video_id not in url and "/tasks/video_" in url)
    assert page.url.rsplit("/", 1)[-1] != video_id
    assert "REMIX OF" in page.inner_text(".facts").upper()
    assert page.evaluate("window.__violations") == []
    assert not [c for c in console if "Content Security Policy" in c or "Refused to" in c]
    page.close()


def test_history_paging_filters_and_back(browser, live, sim_app):
    page = browser.new_page()
    register(page, live.url)
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import User

    with sim_app.app_context():
        uid = db.session.scalar(select(User.id))
    for i in range(30):
        factories.task(
            sim_app,
            uid,
            status=st.FAILED if i % 10 == 0 else st.COMPLETED,
            prompt=f"clip {i:02d}",
            minutes_ago=i,
        )
    page.goto(live.url + "/tasks")
    assert "30 tasks" in page.inner_text("#history")
    page.click(".pager a.next")
    page.wait_for_url(re.compile(r"page=2"))
    assert "clip 20" in page.inner_text("#history")
    page.go_back()
    page.wait_for_url(re.compile(r"/tasks$"))
    assert "clip 00" in page.inner_text("#history")
    page.select_option("select[name=status]", "FAILED")
    page.wait_for_url(re.compile(r"status=FAILED"))
    page.wait_for_function("document.querySelector('#history').innerText.includes('3 tasks')")
    page.reload()
    assert "3 tasks" in page.inner_text("#history")
    # Back restores the unfiltered list *and* the filter controls that describe it
    page.select_option("select[name=status]", "COMPLETED")
    page.wait_for_url(re.compile(r"status=COMPLETED"))
    page.go_back()
    page.wait_for_url(re.compile(r"status=FAILED"))
    page.wait_for_function("document.querySelector('select[name=status]').value === 'FAILED'")
    assert "3 tasks" in page.inner_text("#history")

    # Search as you type, paste (no key pressed) or clear with the box's x: each is an
    # input event, and the list follows. (Locator assertions: a polled wait_for_function
    # is an eval, which the page's CSP refuses.)
    history = page.locator("#history .history-head")
    page.select_option("select[name=status]", "")
    expect(history).to_contain_text("30 tasks")
    page.fill("input[name=q]", "clip 07")  # like a paste: no keyup
    page.wait_for_url(re.compile(r"q=clip(\+|%20)07"))
    expect(history).to_contain_text("1 task")
    page.eval_on_selector(  # what the x inside a search box does
        "input[name=q]",
        "el => { el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})) }",
    )
    expect(history).to_contain_text("30 tasks")
    assert "q=" not in page.url
    page.close()


def test_admin_reviews_stats(browser, live, sim_app):
    page = browser.new_page()
    register(page, live.url, "admin@example.com")
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import User

    with sim_app.app_context():
        uid = db.session.scalar(select(User.id))
    factories.task(sim_app, uid, status=st.COMPLETED, took=20)
    factories.task(sim_app, uid, status=st.FAILED)
    page.goto(live.url + "/admin/stats")
    text = page.inner_text("#stats")
    assert "50.0%" in text and "Per provider" in text
    assert page.query_selector("figure.chart svg rect") is not None
    # The axis labels read at the page's text size at any width (an SVG's own text
    # scales with the chart: 22 px on a desktop, 6 px on a phone).
    label = "figure.chart .x-axis span, figure.chart text.axis-label"
    heights = {}
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        heights[width] = page.eval_on_selector(label, "el => el.getBoundingClientRect().height")
    assert abs(heights[1280] - heights[390]) < 1 and 12 <= heights[390] <= 20, heights
    page.close()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/tasks/new",
        "/tasks",
        "/stats",
        "/admin/users",
        "/admin/providers",
        "/admin/stats",
        "/settings/",
    ],
)
def test_phone_width_has_no_horizontal_scroll(browser, live, path):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    register(page, live.url)
    page.goto(live.url + path)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path} is {width}px wide at 390px"
    page.close()


@pytest.mark.parametrize("width", [1366, 1024])
def test_admin_users_table_fits_its_page(browser, live, sim_app, width):
    """A user's actions (Deactivate, Make admin, Reset link) wrap in their cell instead of
    pushing the table past the page and clipping the last button."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    register(page, live.url, "admin@example.com")
    from webapp.services import accounts

    with sim_app.app_context():
        accounts.register("a.rather.long.address.for.bob@example.com", "correct horse")
    page.goto(live.url + "/admin/users")
    over = page.eval_on_selector_all(
        "table",
        "ts => ts.map(t => t.getBoundingClientRect().right - t.parentElement.getBoundingClientRect().right)",
    )
    assert over and max(over) <= 1, over
    button = page.locator("button[value=reset_link]").last.bounding_box()
    main = page.locator("main").bounding_box()
    assert button["x"] + button["width"] <= main["x"] + main["width"] + 1
    page.close()


def test_a_watched_running_task_is_revalidated_and_its_clock_ticks(browser, sim_app):
    """In a real browser: polls of a running task that has not changed come back 304 and
    the page keeps its fragment (htmx swaps the kept copy); its elapsed time ticks in
    the browser meanwhile; when the task changes, the page shows it."""
    from sqlalchemy import select, update

    from webapp.extensions import db
    from webapp.models import User, VideoTask

    polls: list[int] = []

    def counting(environ, start_response):
        def start(status, headers, exc_info=None):
            if environ["PATH_INFO"].endswith("/live"):
                polls.append(int(status.split()[0]))
            return start_response(status, headers, exc_info)

        return sim_app(environ, start)

    with LiveServer(counting) as live:
        context = browser.new_context()
        page = context.new_page()
        register(page, live.url)
        with sim_app.app_context():
            uid = db.session.scalar(select(User.id))
        vid = factories.task(sim_app, uid, status=st.PROCESSING, progress=30)
        page.goto(f"{live.url}/tasks/{vid}")
        # Every value the clock shows, kept copies swapped in included: never backwards.
        page.evaluate(
            """() => {
              window.seenElapsed = [];
              const note = () => {
                const el = document.querySelector('#task-live time.elapsed');
                if (el) window.seenElapsed.push(parseInt(el.textContent, 10));
              };
              new MutationObserver(note).observe(document.querySelector('.task-main'),
                {subtree: true, childList: true, characterData: true});
            }"""
        )
        shown = page.inner_text("#task-live time.elapsed")
        assert re.fullmatch(r"\d+s", shown), shown
        page.wait_for_function(
            "t => document.querySelector('#task-live time.elapsed').textContent !== t",
            arg=shown,
            timeout=4000,
        )
        deadline = time.monotonic() + 12
        while polls.count(304) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        assert polls[0] == 200 and polls.count(304) >= 2, polls
        assert page.get_attribute("#task-live progress", "value") == "30"
        assert "Cancel task" in page.inner_text("#task-live")
        assert int(page.inner_text("#task-live time.elapsed").rstrip("s")) >= 4
        seen = page.evaluate("window.seenElapsed")
        assert len(seen) >= 4 and seen == sorted(seen), seen

        with sim_app.app_context():
            db.session.execute(
                update(VideoTask).where(VideoTask.video_id == vid).values(progress=70)
            )
            db.session.commit()
        page.wait_for_selector('#task-live progress[value="70"]', timeout=6000)

        # The page shown again from the browser's cache (Back) says the server's time
        # when it was first made, 10 minutes ago: the first poll's Date header sets the
        # clock right (the task started seconds ago, not "0s" for ten minutes).
        def ten_minutes_old(route):
            html = route.fetch().text()
            stamp = re.search(r'data-server-now="([0-9.]+)"', html).group(1)
            stale = html.replace(stamp, f"{float(stamp) - 600:.3f}")
            route.fulfill(status=200, body=stale, headers={"Content-Type": "text/html"})

        page.close()
        page = context.new_page()  # the same browser, signed in
        page.route(f"{live.url}/tasks/{vid}", ten_minutes_old)
        page.goto(f"{live.url}/tasks/{vid}")
        page.wait_for_timeout(3500)  # a poll (every 2 s) has come back, the clock ticked
        shown = page.inner_text("#task-live time.elapsed")
        assert int(shown.rstrip("s")) >= 5, shown
        context.close()
