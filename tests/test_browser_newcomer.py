"""What a person sees, in Debian's Chromium: the browser checks a reference image
before it is sent, sizes follow the aspect ratio, Ctrl+Enter submits, the theme
toggle is remembered, the skip link leads to the content."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .browser_support import LiveServer, chromium, register

pytestmark = pytest.mark.browser


@pytest.fixture
def page(sim_app, backend):
    with chromium(backend) as b, LiveServer(sim_app) as server:
        p = b.new_page()
        p.base = server.url
        register(p, server.url)
        yield p


def test_the_browser_refuses_a_fake_or_oversized_image_before_upload(page, tmp_path):
    page.goto(page.base + "/tasks/new")
    page.select_option("#model", ":sora_video2")  # "any provider"
    fake = tmp_path / "notes.png"
    fake.write_text("this is text, not a picture")
    page.set_input_files("#reference_image", str(fake))
    error = page.locator("#reference_image-client-error")
    error.wait_for(state="visible")
    assert "not a PNG, JPEG or WebP" in error.inner_text()
    assert page.eval_on_selector("#reference_image", "el => el.files.length") == 0
    assert page.is_hidden("#image-preview")
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * 1024 * 1024))
    page.set_input_files("#reference_image", str(big))
    page.wait_for_function(
        "document.getElementById('reference_image-client-error').textContent.includes('limit')"
    )
    assert "the limit is 10 MB" in error.inner_text()

    # Generate does not quietly go on without the refused image: the first press stops
    # and says so; the second goes on, knowingly.
    page.fill("#prompt", "A lighthouse from my photo")
    page.click("#submit-task")
    expect(error).to_contain_text("press Generate again to go on without a reference image")
    assert page.url.endswith("/tasks/new") and page.is_enabled("#submit-task")
    page.click("#submit-task")
    page.wait_for_url(re.compile(r"/tasks/video_[0-9a-f]{32}$"))


def test_sizes_follow_the_aspect_ratio_and_ctrl_enter_submits(page):
    page.goto(page.base + "/tasks/new")
    page.select_option("#model", ":sora_video2")  # "any provider"
    page.select_option("#aspect_ratio", "9:16")
    sizes = page.eval_on_selector_all("#size option", "os => os.map(o => o.value).filter(Boolean)")
    assert sizes and all(int(s.split("x")[0]) < int(s.split("x")[1]) for s in sizes), sizes
    page.select_option("#aspect_ratio", "16:9")
    sizes = page.eval_on_selector_all("#size option", "os => os.map(o => o.value).filter(Boolean)")
    assert sizes and all(int(s.split("x")[0]) > int(s.split("x")[1]) for s in sizes), sizes

    # Where the size is the shape (OpenAI Videos: no square Sora size), a shape the model
    # does not make is not offered, and a choice of it is let go; a provider that takes an
    # aspect ratio of its own (Gemini) offers every shape.
    def offered():
        return page.eval_on_selector_all(
            "#aspect_ratio option", "os => os.filter(o => o.value && !o.disabled).map(o => o.value)"
        )

    gemini = page.eval_on_selector(
        "#model",
        "s => [...s.options].find(o => o.value.endsWith(':gemini-2.5-flash-imagen')).value",
    )
    page.select_option("#model", gemini)
    page.select_option("#aspect_ratio", "1:1")
    assert offered() == ["16:9", "9:16", "1:1"]
    page.select_option("#model", ":sora_video2")
    assert offered() == ["16:9", "9:16"] and page.input_value("#aspect_ratio") == ""
    page.select_option("#aspect_ratio", "16:9")
    page.fill("#prompt", "A kite over a windy beach")
    page.focus("#prompt")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/tasks/video_[0-9a-f]{32}$"))


def test_theme_toggle_is_remembered_and_skip_link_goes_to_content(page):
    page.emulate_media(color_scheme="light")
    page.goto(page.base + "/tasks")
    assert page.evaluate("document.documentElement.dataset.theme || ''") == ""
    page.click("[data-theme-toggle]")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.get_attribute("[data-theme-toggle]", "aria-pressed") == "true"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_filters_leave_empty_parameters_out_of_the_url(page):
    page.goto(page.base + "/tasks")
    page.select_option("select[name=status]", "FAILED")
    page.wait_for_url(re.compile(r"/tasks\?status=FAILED$"))


def test_gallery_hover_plays_the_video_sprite_sheet(page, sim_app, sim):
    from .lifecycle_support import create, finish, user

    vid = create(sim_app, user(sim_app), prompt="a kite over the dunes")
    assert finish(sim_app, sim, vid).archive.get("spritesheet")
    page.goto(page.base + "/tasks?view=grid")
    sprite = page.locator(".gallery-sprite")
    assert sprite.count() == 1
    page.hover(".gallery-link")
    page.wait_for_function("document.querySelector('.gallery-sprite').dataset.grid")
    assert sprite.get_attribute("data-grid") == "4x2"  # the simulator's sheet: 4 x 2 frames
    first = sprite.evaluate("el => el.style.backgroundPosition")
    page.wait_for_function(
        "p => document.querySelector('.gallery-sprite').style.backgroundPosition !== p", arg=first
    )
    assert "playing" in sprite.get_attribute("class")
    page.mouse.move(1, 1)
    page.wait_for_function("!document.querySelector('.gallery-sprite.playing')")
    assert sprite.evaluate("el => el.style.backgroundPosition") == "0% 0%"
