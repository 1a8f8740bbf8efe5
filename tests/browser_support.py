"""Run the real app in a thread and drive Debian's Chromium with Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("REELAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require_browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("REELAY_BROWSER_TESTS") == "required":
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip("Chromium is not installed (apt-get install chromium)")


class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)


@contextmanager
def chromium(backend: str):
    """Debian's Chromium under Playwright; browser flows run once, on SQLite."""
    if backend != "sqlite":
        pytest.skip("browser flows run once, on SQLite")
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def register(page, base: str, email: str = "ada@example.com") -> None:
    """Sign up through the form (the first account is the admin)."""
    page.goto(base + "/auth/register")
    page.fill("#email", email)
    page.fill("#password", "correct horse")
    page.fill("#confirm", "correct horse")
    page.click("form button[type=submit]")
    page.wait_for_load_state()
