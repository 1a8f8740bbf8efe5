"""Confirmation prompts carry hostile text as text: a quote or backtick in an e-mail
address must never become script (the stored XSS an outside check found on Admin → Users)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import User

from .browser_support import LiveServer, chromium

HOSTILE = "a'-alert`1`-'@example.com"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_no_template_has_inline_handlers_or_javascript_urls():
    pattern = re.compile(r"\son[a-z]+\s*=|javascript:", re.I)
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{n}"
        for path in TEMPLATES.rglob("*.html")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_users_page_puts_the_email_in_a_data_attribute_only(app, auth, client):
    auth.register("admin@example.com")
    auth.logout()
    auth.register(HOSTILE)
    auth.logout()
    auth.login("admin@example.com")
    html = client.get("/admin/users").get_data(as_text=True)
    assert "onclick" not in html
    assert 'data-confirm="Deactivate a&#39;-alert`1`-&#39;@example.com?' in html


@pytest.mark.browser
@pytest.mark.parametrize("answer", [True, False])
def test_deactivate_asks_with_the_literal_email_and_runs_no_script(app, backend, answer):
    from webapp.services import accounts

    with app.app_context():
        accounts.register("admin@example.com", "correct horse")
        accounts.register(HOSTILE, "correct horse")
    dialogs = []
    with chromium(backend) as browser, LiveServer(app) as live:
        page = browser.new_page()

        def on_dialog(dialog):
            dialogs.append((dialog.type, dialog.message))
            dialog.accept() if answer else dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(live.url + "/auth/login")
        page.fill("#email", "admin@example.com")
        page.fill("#password", "correct horse")
        page.click("form button[type=submit]")
        page.wait_for_load_state()
        page.goto(live.url + "/admin/users")
        page.click("button[value=deactivate]")
        page.wait_for_load_state()
    assert dialogs == [
        (
            "confirm",
            f"Deactivate {HOSTILE}? They are signed out and their API tokens stop working.",
        )
    ]
    with app.app_context():
        victim = db.session.scalar(select(User).where(User.email == HOSTILE))
        assert victim.active is (not answer)
