from __future__ import annotations

import pytest

from webapp.providers import base as pb
from webapp.providers.fal import FalQueue
from webapp.providers.gemini import GeminiAPI
from webapp.providers.openai_videos import OpenAIVideos
from webapp.providers.openrouter import OpenRouterVideos
from webapp.providers.registry import KINDS, build
from webapp.providers.replicate import ReplicatePredictions
from webapp.providers.vertex import VertexVeo

from .conftest import config


def test_kinds_and_defaults():
    assert set(KINDS) == {"openai", "openrouter", "fal", "replicate", "gemini", "vertex"}
    assert KINDS["fal"].default_base_url == "https://queue.fal.run"
    assert KINDS["replicate"].default_base_url == "https://api.replicate.com"
    assert KINDS["replicate"].default_prefix == "/v1"
    assert KINDS["gemini"].default_base_url == "https://generativelanguage.googleapis.com"
    assert KINDS["openai"].default_prefix == "/v1"
    for kind in KINDS.values():
        assert kind.label and kind.default_auth in ("bearer", "raw")


BUILT = [
    (
        "openai",
        OpenAIVideos,
        {"remix", "delete", "list", "image_input", "thumbnail", "spritesheet"},
    ),
    ("fal", FalQueue, {"cancel", "image_input", "aspect_ratio"}),
    ("replicate", ReplicatePredictions, {"cancel", "list", "image_input", "aspect_ratio"}),
    ("gemini", GeminiAPI, {"image_input", "aspect_ratio"}),
    ("openrouter", OpenRouterVideos, {"image_input", "aspect_ratio"}),
    ("vertex", VertexVeo, {"image_input", "aspect_ratio"}),
]


@pytest.mark.parametrize(("kind", "cls", "caps"), BUILT)
def test_build_each_kind(session, kind, cls, caps):
    adapter = build(config(kind, "https://x.example"), session)
    assert isinstance(adapter, cls)
    assert adapter.capabilities == caps == KINDS[kind].capabilities
    assert adapter.session is session


def test_every_kind_is_built():
    assert set(KINDS) == {kind for kind, _cls, _caps in BUILT}


def test_unknown_kind(session):
    for kind in ("runway", "midjourney"):
        with pytest.raises(pb.PermanentError):
            build(config(kind, "https://x.example"), session)
