"""Fixtures for the adapter tests: adapters wired to a spying session, ``responses`` mocks,
and the recorded upstream payloads of ``payloads/<protocol>/*.json``.

Each payload file is ``{source, status, headers, body}``: a real answer (or request) of an
upstream, transcribed from the public source it names. No app, no database, no network
(except the loopback connect-refused test)."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from pathlib import Path

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
GEMINI_HOST = "https://generativelanguage.googleapis.com"
GEMINI = f"{GEMINI_HOST}/v1beta"
OPENROUTER_HOST = "https://openrouter.ai"
OPENROUTER = f"{OPENROUTER_HOST}/api/v1"
VERTEX_HOST = "https://us-central1-aiplatform.googleapis.com"
VERTEX = f"{VERTEX_HOST}/v1"
STORAGE = "https://storage.googleapis.com"
TOKEN_URI = "https://oauth2.googleapis.com/token"  # the key file's token_uri, mocked
SA_EMAIL = "relay@proj.iam.gserviceaccount.com"
VERTEX_EXTRA = {"project": "my-proj", "location": "us-central1"}

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 1024  # 256 KiB: 5 chunks of 64 KiB

PAYLOADS = Path(__file__).parent / "payloads"


# ---- recorded payloads ----------------------------------------------------------------


def payload_names() -> list[str]:
    """Every recorded payload, as ``protocol/file.json``."""
    return sorted(p.relative_to(PAYLOADS).as_posix() for p in PAYLOADS.glob("*/*.json"))


@functools.cache
def _read(name: str) -> str:
    return (PAYLOADS / name).read_text(encoding="utf-8")


def load_payload(name: str) -> dict:
    """A fresh copy of ``payloads/<name>``: {source, status, headers, body}."""
    return json.loads(_read(name))


def serve(rsps, method: str, url: str, payload: dict, body: bytes | None = None, **kw):
    """Mock ``method url`` to answer exactly as recorded: status, headers and JSON body
    (``body`` replaces a body the recording could not hold, such as an MP4)."""
    headers = {k: v for k, v in payload["headers"].items() if k.lower() != "content-type"}
    ctype = next(
        (v for k, v in payload["headers"].items() if k.lower() == "content-type"),
        "application/json",
    )
    if body is None:
        body = json.dumps(payload["body"]) if payload["body"] is not None else b""
    rsps.add(
        method,
        url,
        status=payload["status"],
        headers=headers,
        content_type=ctype,
        body=body,
        **kw,
    )


def ts(seconds: float) -> datetime:
    """Unix seconds as the naive UTC datetime the adapters report."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def body_of(call) -> dict:
    return json.loads(call.request.body)


# ---- adapters ---------------------------------------------------------------------------


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
    return make("gemini", GEMINI_HOST, "/v1beta")


@pytest.fixture
def openrouter(make):
    return make("openrouter", OPENROUTER_HOST, "/api/v1")


# ---- Vertex: a service-account key file and its token endpoint ------------------------


@functools.cache
def rsa_private_pem() -> str:
    """One RSA key per test run (generating one costs tens of milliseconds)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def write_key_file(path: Path, **fields) -> Path:
    """A service-account key file as Google issues it, its token_uri on the mocked host."""
    data = {
        "type": "service_account",
        "project_id": "my-proj",
        "private_key_id": "abc123",
        "private_key": rsa_private_pem(),
        "client_email": SA_EMAIL,
        "client_id": "100000000000000000001",
        "token_uri": TOKEN_URI,
        **fields,
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def key_file(tmp_path):
    # A fresh path per test: the adapter caches credentials by (path, mtime).
    return write_key_file(tmp_path / "service-account.json")


@pytest.fixture
def make_vertex(make, key_file):
    def _make(**extra):
        return make(
            "vertex", VERTEX_HOST, "/v1", api_key=str(key_file), extra={**VERTEX_EXTRA, **extra}
        )

    return _make


@pytest.fixture
def vertex(make_vertex):
    return make_vertex()


@pytest.fixture
def token(rsps):
    """Google's token endpoint answering as recorded; yields the access token it issues."""
    recorded = load_payload("vertex/token_200.json")
    serve(rsps, "POST", TOKEN_URI, recorded)
    return recorded["body"]["access_token"]


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    """The sandbox has no DNS: every made-up provider host (api.openai.com, queue.fal.run…)
    resolves to a public documentation address, so the address policy passes without a
    five-second resolver timeout per host. Tests of the policy itself patch it again."""
    import socket

    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in ("localhost",) or host.replace(".", "").isdigit() or ":" in host:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port or 443))]

    monkeypatch.setattr("webapp.providers.addresses.socket.getaddrinfo", fake)
