"""Rendered media: sizes keep the aspect ratio, assets are cached, and Debian's Chromium
really plays and seeks the MP4 (the point of H.264 + faststart)."""

from __future__ import annotations

import os
import shutil

import pytest
from sim_helpers import KEY, assert_mp4, image_format

from webapp.simulator import media

CHROMIUM = os.environ.get("REELAY_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.parametrize(
    ("size", "dims"),
    [("1280x720", (640, 360)), ("720x1280", (360, 640)), ("1792x1024", (640, 364))],
)
def test_dims_keep_aspect_ratio(size, dims):
    assert media.dims(size) == dims


def test_assets_are_real_and_cached():
    assets = media.video_assets("cache me", "720x1280", 12)
    assert_mp4(assets["video"])
    assert image_format(assets["thumbnail"]) == "WEBP"
    assert image_format(assets["spritesheet"]) == "JPEG"
    assert media.peek("cache me", "720x1280", 20) is assets  # capped at 4 s: same key
    assert media.video_assets("cache me", "720x1280", 12) is assets  # served from the cache
    assert image_format(media.image_png("a png", "1024x1024")) == "PNG"


@pytest.mark.browser
def test_chromium_plays_and_seeks(simsrv, http):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip("Chromium is not installed")
    sub = http.post(
        f"{simsrv.url}/fal/fal-ai/veo3",
        json={"prompt": "play me"},
        headers={"Authorization": f"Key {KEY}"},
    ).json()
    simsrv.advance(10)
    url = http.get(sub["response_url"], headers={"Authorization": f"Key {KEY}"}).json()["video"][
        "url"
    ]
    script = """async (u) => {
        const v = document.createElement('video'); v.muted = true; v.src = u;
        await new Promise((ok, ko) => { v.onloadeddata = ok;
            v.onerror = () => ko(new Error('media error ' + (v.error && v.error.code))); });
        v.currentTime = 2.5; await new Promise(ok => { v.onseeked = ok; });
        return {duration: v.duration, width: v.videoWidth, time: v.currentTime}; }"""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(simsrv.url + "/")
            result = page.evaluate(script, url)
        finally:
            browser.close()
    assert result["duration"] > 3 and result["width"] == 640 and result["time"] == 2.5
