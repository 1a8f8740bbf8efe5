"""Hostile strings in every field, rendered in Chromium under the strict CSP: no dialog,
no CSP violation, no page error, and nowhere does a payload become markup — on every
page and fragment, as its owner and as an admin, at desktop and phone width."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import Provider, TaskEvent, VideoTask
from webapp.services import accounts, signup

from . import factories
from .browser_support import LiveServer, chromium, require_browser

pytestmark = pytest.mark.browser

PAYLOAD = (
    '\'"`</script><script>alert(1)</script>"><img src=x onerror=alert(2)>{{7*7}}'
    "\u202eevil\u202c " + "w" * 300
)
SHORT = "'\"`<img src=x onerror=alert(3)>{{7*7}}\u202e"
HOSTILE_EMAIL = "a'-alert`1`-'@example.com"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || '')));
"""
PROBE = """() => ({
  violations: window.__violations,
  injectedImages: document.querySelectorAll('img[src="x"], img[src$="/x"]').length,
  inlineScripts: document.querySelectorAll('script:not([src])').length,
  handlers: [...document.querySelectorAll('*')].filter(el =>
      [...el.attributes].some(a => a.name.startsWith('on'))).length,
  text: document.body ? document.body.innerText : '',
})"""


@pytest.fixture
def world(sim_app, backend):
    if backend != "sqlite":
        pytest.skip("browser flows run once, on SQLite")
    require_browser()
    app = sim_app
    with app.app_context():
        admin = accounts.register("admin@example.com", "correct horse")
        user = accounts.register(HOSTILE_EMAIL, "correct horse")
        accounts.create_token(user, PAYLOAD[:80])
        signup.create_invite(admin, SHORT)
        provider = db.session.scalar(select(Provider).order_by(Provider.id))
        provider.name = SHORT
        entry = dict(provider.model_map["sora_video2"], label=SHORT)
        provider.model_map = {**provider.model_map, "sora_video2": entry}
        db.session.commit()
        ids = {"admin": admin.id, "user": user.id, "provider": provider.id}
    videos = []
    for status in (st.QUEUED, st.PROCESSING, st.COMPLETED, st.FAILED, st.CANCELLED):
        vid = factories.task(
            app,
            ids["user"],
            provider_id=ids["provider"],
            status=status,
            prompt=PAYLOAD,
            error_message=SHORT if status == st.FAILED else None,
        )
        videos.append(vid)
    with app.app_context():
        first = db.session.scalar(select(VideoTask).where(VideoTask.video_id == videos[2]))
        remix = db.session.scalar(select(VideoTask).where(VideoTask.video_id == videos[0]))
        remix.remix_of_id = first.id
        remix.options = {"remix_from": first.video_id, "type": "remix"}
        db.session.add(TaskEvent(task_id=first.id, kind="info", message=PAYLOAD[:500]))
        db.session.commit()
        signup.set_policy("approval")
        accounts.register("pending'`<b>@example.com", "correct horse")
    return app, videos, ids


def pages_for(videos, admin: bool) -> list[str]:
    pages = ["/", "/tasks/new", "/tasks", "/tasks?q=" + quote(SHORT), "/stats", "/settings/"]
    for vid in videos:
        pages += [f"/tasks/{vid}", f"/tasks/{vid}/live", f"/tasks/{vid}/row"]
    pages += ["/tasks/" + quote(SHORT, safe=""), "/no/such/" + quote(SHORT, safe="")]
    if admin:
        pages += [
            "/admin/users",
            "/admin/providers",
            "/admin/providers/1",
            "/admin/providers/new",
            "/admin/tasks",
            "/admin/tasks?q=" + quote(SHORT),
            "/admin/stats",
        ]
    return pages


ANONYMOUS = [
    "/auth/login",
    "/auth/register",
    "/auth/register?invite=" + quote(SHORT),
    "/auth/forgot",
    "/auth/reset/" + quote(SHORT, safe=""),
]


def visit_all(browser, base, email, paths, viewport):
    problems = []
    context = browser.new_context(viewport=viewport)
    context.add_init_script(WATCH)
    page = context.new_page()
    dialogs, errors, console = [], [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    if email:
        page.goto(base + "/auth/login")
        page.fill("#email", email)
        page.fill("#password", "correct horse")
        page.click("form button[type=submit]")
        page.wait_for_load_state()
    for path in paths:
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        found = page.evaluate(PROBE)
        csp = [c for c in console if "Content Security Policy" in c or "Refused to" in c]
        for kind, bad in (
            ("dialog", dialogs),
            ("page error", errors),
            ("CSP violation", found["violations"] + csp),
        ):
            if bad:
                problems.append(f"{path}: {kind}: {bad}")
        if found["injectedImages"] or found["inlineScripts"] or found["handlers"]:
            problems.append(f"{path}: markup from a payload: {found}")
        dialogs.clear(), errors.clear(), console.clear()
    context.close()
    return problems


@pytest.mark.parametrize("width", sorted(VIEWPORTS))
def test_every_page_renders_hostile_text_as_text(world, width):
    app, videos, _ids = world
    with chromium("sqlite") as browser, LiveServer(app) as live:
        viewport = VIEWPORTS[width]
        problems = visit_all(browser, live.url, None, ANONYMOUS, viewport)
        problems += visit_all(browser, live.url, HOSTILE_EMAIL, pages_for(videos, False), viewport)
        problems += visit_all(
            browser, live.url, "admin@example.com", pages_for(videos, True), viewport
        )
    assert problems == []


def test_the_payload_is_shown_as_typed(world):
    app, videos, _ids = world
    with chromium("sqlite") as browser, LiveServer(app) as live:
        page = browser.new_page()
        page.goto(live.url + "/auth/login")
        page.fill("#email", "admin@example.com")
        page.fill("#password", "correct horse")
        page.click("form button[type=submit]")
        page.wait_for_load_state()
        page.goto(live.url + f"/tasks/{videos[3]}")
        text = page.inner_text("body")
    assert "<img src=x onerror=alert(2)>" in text and "{{7*7}}" in text
