"""Pure rules: poll cadence, backoff, model shapes, input checks."""

import base64
import io

import pytest
from PIL import Image

from webapp.domain import statuses as st
from webapp.domain.catalog import model_spec, resolve_shape
from webapp.domain.polling import backoff_delay, next_poll_delay
from webapp.domain.validation import ValidationError, check_image, check_prompt, decode_data_url


@pytest.mark.parametrize(
    ("progress", "expected"), [(0, 5), (29, 5), (30, 10), (70, 10), (71, 15), (99, 15), (None, 5)]
)
def test_poll_cadence_by_progress(progress, expected):
    assert next_poll_delay(progress) == expected


def test_upstream_hint_wins_but_is_clamped():
    assert next_poll_delay(10, hint=2.5) == 2.5
    assert next_poll_delay(10, hint=0.01) == 1.0
    assert next_poll_delay(10, hint=10_000) == 60.0


def test_backoff_grows_and_obeys_retry_after():
    assert 4 <= backoff_delay(1) <= 6
    assert 16 <= backoff_delay(3) <= 24
    assert backoff_delay(30) <= 300 * 1.2
    assert backoff_delay(1, retry_after=7) == 7


def test_terminal_states_never_change():
    for terminal in st.TERMINAL:
        for new in st.ALL:
            assert not st.can_transition(terminal, new)
    assert st.can_transition(st.QUEUED, st.PROCESSING)
    assert not st.can_transition(st.PROCESSING, st.QUEUED)


SPEC = model_spec(
    "sora_video2",
    {"upstream": "sora-2", "size": "1280x720", "seconds": 10},
    ["1280x720", "720x1280", "1024x1024"],
    [4, 8, 10, 12],
)


def test_size_derived_from_aspect_ratio():
    assert resolve_shape(SPEC, None, "9:16", None) == ("720x1280", "9:16", 10)
    assert resolve_shape(SPEC, None, "1:1", 4) == ("1024x1024", "1:1", 4)
    assert resolve_shape(SPEC, None, None, None) == ("1280x720", "16:9", 10)
    assert resolve_shape(SPEC, "720x1280", None, 8) == ("720x1280", "9:16", 8)


def test_an_aspect_ratio_takes_the_models_own_size_of_that_shape():
    spec = model_spec("m", {"size": "1792x1024"}, ["1792x1024", "1024x1792"], [])
    assert resolve_shape(spec, None, "9:16", None)[:2] == ("1024x1792", "9:16")


def test_square_not_offered_falls_back_to_default():
    spec = model_spec("m", {"size": "1280x720"}, ["1280x720", "720x1280"], [])
    assert resolve_shape(spec, None, "1:1", None)[0] == "1280x720"


def test_prompt_rules():
    with pytest.raises(ValidationError) as exc:
        check_prompt("   ")
    assert exc.value.code == "prompt_required"
    with pytest.raises(ValidationError) as exc:
        check_prompt("x" * 32001)
    assert exc.value.code == "prompt_too_long" and "32,000" in exc.value.message
    assert check_prompt("  a cat  ") == "a cat"


def png_bytes(fmt="PNG", size=(8, 8)):
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


def test_images_are_decoded_not_trusted():
    assert check_image(png_bytes(), 10_000_000)[1] == "image/png"
    assert check_image(png_bytes("JPEG"), 10_000_000)[1] == "image/jpeg"
    assert check_image(png_bytes("WEBP"), 10_000_000)[1] == "image/webp"
    with pytest.raises(ValidationError, match="PNG, JPEG or WebP"):
        check_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, 10_000_000)
    with pytest.raises(ValidationError, match="PNG, JPEG or WebP"):
        check_image(png_bytes("GIF"), 10_000_000)
    with pytest.raises(ValidationError) as exc:
        check_image(png_bytes(), 10)
    assert exc.value.code == "image_too_large"


def test_decompression_bomb_is_refused_before_decoding():
    """A small file claiming 13000x13000 pixels is refused from its header alone."""
    import tracemalloc

    bomb = png_bytes(size=(13000, 13000))  # solid colour: compresses to well under 1 MB
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    with pytest.raises(ValidationError) as exc:
        check_image(bomb, 10_000_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert exc.value.code == "image_too_large" and "13000×13000" in exc.value.message
    assert peak < 20_000_000  # nothing near the 500+ MB a decode would take


def test_data_url_decoding():
    raw = png_bytes()
    url = "data:image/png;base64," + base64.b64encode(raw).decode()
    assert decode_data_url(url) == raw
    with pytest.raises(ValidationError) as exc:
        decode_data_url("data:image/png;base64,@@@")
    assert exc.value.code == "invalid_image"
