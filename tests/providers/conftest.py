"""Fixtures for the adapter tests: adapters wired to a spying session, ``responses`` mocks.

Payloads are copied from /work/shared/reference/providers.md and upstream.md; no app, no
database, no network (except the loopback connect-refused test)."""

from __future__ import annotations

import pytest
import requests
import responses

from webapp.providers.base import ProviderConfig
from webapp.providers.http import make_session
from webapp.providers.registry import build

KEY = "sk-live-TOPSECRET-9f8e7d6c5b4a"

GW = "https://gw.example.com"
FAL = "https://queue.fal.run"
REPLICATE = "https://api.replicate.com/v1"
GEMINI = "https://generativelanguage.googleapis.com/v1beta"

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 1024  # 256 KiB: 5 chunks of 64 KiB


class SpySession(requests.Session):
    """A pooled session (make_session's adapters) that records every request's kwargs."""

    def __init__(self):
        super().__init__()
        real = make_session()
        for prefix, adapter in real.adapters.items():
            self.mount(prefix, adapter)
        self.headers.update(real.headers)
        self.calls: list[dict] = []

    def request(self, method, url, **kwargs):
        self.calls.append({"method": method, "url": url, **kwargs})
        return super().request(method, url, **kwargs)


def config(kind: str, base_url: str, path_prefix: str = "/v1", **kw) -> ProviderConfig:
    extra = kw.pop("extra", {})
    return ProviderConfig(
        kind=kind,
        base_url=base_url,
        path_prefix=path_prefix,
        api_key=kw.pop("api_key", KEY),
        connect_timeout=kw.pop("connect_timeout", 1.0),
        read_timeout=kw.pop("read_timeout", 1.0),
        extra=extra,
        **kw,
    )


@pytest.fixture
def session():
    return SpySession()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make(session):
    def _make(kind: str, base_url: str, path_prefix: str = "/v1", **kw):
        return build(config(kind, base_url, path_prefix, **kw), session)

    return _make


@pytest.fixture
def openai(make):
    return make("openai", GW)


@pytest.fixture
def fal(make):
    return make("fal", FAL, "")


@pytest.fixture
def replicate(make):
    return make("replicate", "https://api.replicate.com", "/v1")


@pytest.fixture
def gemini(make):
    return make("gemini", "https://generativelanguage.googleapis.com", "/v1beta")
