"""Register and log in through the real pages in Chromium."""

import pytest

from .browser_support import LiveServer, chromium

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_page(make_app, backend):
    app = make_app(WTF_CSRF_ENABLED=True)
    with chromium(backend) as browser, LiveServer(app) as live:
        yield live, browser.new_page()


def test_register_logout_login_in_chromium(browser_page):
    live, page = browser_page
    page.goto(live.url + "/auth/register")
    page.fill("#email", "grace@example.com")
    page.fill("#password", "hopper-1906")
    page.fill("#confirm", "hopper-1906")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "Welcome to Reelay" in page.content()
    page.click("text=Log out")
    page.wait_for_url("**/auth/login")
    page.fill("#email", "grace@example.com")
    page.fill("#password", "wrong-password")
    page.click("form >> button[type=submit]")
    assert page.locator(".field-error").inner_text() == "Wrong email or password."
    page.fill("#password", "hopper-1906")
    page.click("form >> button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("text=Log out").count() == 1
