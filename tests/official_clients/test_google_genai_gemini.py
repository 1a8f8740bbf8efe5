"""The simulator's Gemini Developer API (image generation through generateContent), driven
by the official ``google-genai`` client (3.6.1).

Whenever this file and the simulator disagree, the simulator is wrong: the expected
behaviour is the real service's, as recorded in /work/research/openrouter_google.md
section B (cited as "notes B<n>") and the samples in /work/research/payloads/gemini/.

Facts relied on:
- google-genai 3.x defaults to api_version ``v1`` (2.x used ``v1beta``), and auth is the
  ``x-goog-api-key`` header (notes B3).
- An image comes back as ``candidates[0].content.parts[].inlineData`` (notes B3,
  generateContent_image_200.json); the SDK decodes it to ``part.inline_data.data`` bytes.
- A bad key is HTTP **400** INVALID_ARGUMENT with ``details[].reason == API_KEY_INVALID``;
  an unknown model is a JSON 404 NOT_FOUND; quota is 429 RESOURCE_EXHAUSTED with a
  ``google.rpc.RetryInfo`` detail (notes B3, error_*.json).
- google-genai only accepts HTTP 200 as success and does not retry by default (B1, B4).
- ``generate_videos`` is refused client-side in Developer API mode in 3.x (B1).

The wire is observed with httpx2 event hooks passed through ``HttpOptions.client_args``;
the calls are ordinary SDK calls.
"""

from __future__ import annotations

import io

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from webapp.simulator.server import SimulatorServer

KEY = "sim-key"
IMAGE_MODEL = "gemini-2.5-flash-image"  # notes B3 / generateContent_image_request.json
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sim():
    server = SimulatorServer({"API_KEY": KEY, "QUEUE_SECONDS": 0, "RUN_SECONDS": 1}).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh(sim):
    sim.reset()
    yield
    sim.reset()


class Wire:
    def __init__(self):
        self.requests = []  # (method, path, headers)
        self.responses = []  # (path, status, headers)

    def on_request(self, request):
        self.requests.append((request.method, request.url.path, dict(request.headers)))

    def on_response(self, response):
        self.responses.append(
            (response.request.url.path, response.status_code, dict(response.headers))
        )


@pytest.fixture
def wire():
    return Wire()


def make_client(sim, wire=None, key=KEY, api_version=None):
    opts = {"base_url": sim.url}
    if api_version:
        opts["api_version"] = api_version
    if wire is not None:
        opts["client_args"] = {
            "event_hooks": {"request": [wire.on_request], "response": [wire.on_response]}
        }
    return genai.Client(api_key=key, http_options=types.HttpOptions(**opts))


@pytest.fixture
def client(sim, wire):
    c = make_client(sim, wire)  # keep a reference: notes B4 (GC closes the client)
    yield c
    c.close()


def image_config(ratio="16:9"):
    return types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=ratio),
    )


def image_parts(response):
    parts = response.candidates[0].content.parts
    return [p for p in parts if p.inline_data is not None]


def assert_png(data: bytes) -> Image.Image:
    assert isinstance(data, bytes)
    assert data[:8] == PNG_MAGIC, data[:16]
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == "PNG"
    return img


# --------------------------------------------------------------------------- images


def test_generate_image_default_v1(client, wire):
    """google-genai 3.x default: POST /v1/models/{m}:generateContent with x-goog-api-key."""
    resp = client.models.generate_content(
        model=IMAGE_MODEL,
        contents="A storyboard frame of a lighthouse in a storm",
        config=image_config(),
    )
    method, path, headers = wire.requests[-1]
    assert (method, path) == ("POST", f"/v1/models/{IMAGE_MODEL}:generateContent")
    assert headers["x-goog-api-key"] == KEY
    assert "authorization" not in headers
    assert wire.responses[-1][1] == 200
    images = image_parts(resp)
    assert len(images) == 1
    assert images[0].inline_data.mime_type == "image/png"
    img = assert_png(images[0].inline_data.data)
    assert img.width / img.height == pytest.approx(16 / 9, rel=0.05)
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    assert resp.response_id


def test_generate_image_v1beta(sim, wire):
    c = make_client(sim, wire, api_version="v1beta")
    resp = c.models.generate_content(
        model=IMAGE_MODEL, contents="A paper boat", config=image_config("9:16")
    )
    assert wire.requests[-1][1] == f"/v1beta/models/{IMAGE_MODEL}:generateContent"
    img = assert_png(image_parts(resp)[0].inline_data.data)
    assert img.height / img.width == pytest.approx(16 / 9, rel=0.05)
    c.close()


def test_response_parts_convenience_accessors(client):
    resp = client.models.generate_content(
        model=IMAGE_MODEL, contents="A red kite", config=image_config("1:1")
    )
    # response.parts is the first candidate's parts; as_image() works on inline images
    inline = [p for p in resp.parts if p.inline_data is not None]
    assert inline and inline[0].inline_data.data[:8] == PNG_MAGIC
    img = inline[0].as_image()
    assert img is not None
    assert resp.usage_metadata is not None and resp.usage_metadata.prompt_token_count is not None


def test_blocked_prompt_is_a_200_with_prompt_feedback(client, wire):
    """generateContent_blocked_200.json: no candidates, promptFeedback.blockReason."""
    resp = client.models.generate_content(
        model=IMAGE_MODEL, contents="[fail] something the filter blocks", config=image_config()
    )
    assert wire.responses[-1][1] == 200
    assert not resp.candidates
    assert resp.prompt_feedback is not None and resp.prompt_feedback.block_reason is not None


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_bad_key_is_400_invalid_argument_api_key_invalid(sim, api_version):
    c = make_client(sim, key="wrong-key", api_version=api_version)
    with pytest.raises(errors.ClientError) as info:
        c.models.generate_content(model=IMAGE_MODEL, contents="x", config=image_config())
    err = info.value
    assert err.code == 400, (err.code, err.status, err.details)  # notes B3: 400, not 401
    assert err.status == "INVALID_ARGUMENT"
    details = err.details["error"].get("details") or []
    reasons = [d.get("reason") for d in details if d.get("@type") == ERROR_INFO]
    assert reasons == ["API_KEY_INVALID"]
    c.close()


@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_unknown_model_is_json_404_not_found(sim, wire, api_version):
    c = make_client(sim, wire, api_version=api_version)
    with pytest.raises(errors.ClientError) as info:
        c.models.generate_content(model="gemini-no-such-model", contents="x", config=image_config())
    err = info.value
    assert err.code == 404, (err.code, err.status, err.details)
    assert wire.responses[-1][2].get("content-type", "").startswith("application/json")
    assert err.status == "NOT_FOUND"
    assert isinstance(err.details, dict) and err.details["error"]["code"] == 404
    assert "models/gemini-no-such-model" in err.message
    c.close()


def test_quota_is_429_resource_exhausted(sim, client):
    sim.add_faults(
        [{"op": "create", "kind": "429", "count": 1, "protocol": "gemini", "retry_after": 47}]
    )
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=IMAGE_MODEL, contents="x", config=image_config())
    err = info.value
    assert err.code == 429
    assert err.status == "RESOURCE_EXHAUSTED"
    assert err.details["error"]["code"] == 429


def test_quota_429_carries_retry_info(sim, client):
    """error_429_resource_exhausted.json: details[] has google.rpc.RetryInfo{retryDelay:"47s"}
    (the SDK does not read Retry-After: notes B4; RetryInfo is how the delay is told)."""
    sim.add_faults(
        [{"op": "create", "kind": "429", "count": 1, "protocol": "gemini", "retry_after": 47}]
    )
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=IMAGE_MODEL, contents="x", config=image_config())
    details = info.value.details["error"].get("details") or []
    delays = [d.get("retryDelay") for d in details if d.get("@type") == RETRY_INFO]
    assert delays == ["47s"], details


def test_no_retry_by_default(sim, client, wire):
    """notes B4: retry_options unset means exactly one attempt."""
    sim.add_faults([{"op": "create", "kind": "503", "count": 1, "protocol": "gemini"}])
    with pytest.raises(errors.ServerError) as info:
        client.models.generate_content(model=IMAGE_MODEL, contents="x", config=image_config())
    assert info.value.code == 503
    assert info.value.status == "UNAVAILABLE"
    assert len([r for r in wire.requests if r[0] == "POST"]) == 1
    # the next call succeeds
    resp = client.models.generate_content(model=IMAGE_MODEL, contents="y", config=image_config())
    assert_png(image_parts(resp)[0].inline_data.data)


def test_opt_in_retry_recovers_from_429(sim, wire):
    sim.add_faults(
        [{"op": "create", "kind": "429", "count": 1, "protocol": "gemini", "retry_after": 1}]
    )
    retry = types.HttpRetryOptions(
        attempts=3, initial_delay=0.05, max_delay=0.2, http_status_codes=[429]
    )
    c = genai.Client(
        api_key=KEY,
        http_options=types.HttpOptions(
            base_url=sim.url,
            retry_options=retry,
            client_args={
                "event_hooks": {"request": [wire.on_request], "response": [wire.on_response]}
            },
        ),
    )
    resp = c.models.generate_content(model=IMAGE_MODEL, contents="z", config=image_config())
    assert [r[1] for r in wire.responses] == [429, 200]
    assert_png(image_parts(resp)[0].inline_data.data)
    c.close()


# --------------------------------------------------------------------------- Veo


def test_generate_videos_is_refused_in_developer_api_mode(client, wire):
    """notes B1: 3.x raises before any request; this is why Veo moved to Vertex."""
    with pytest.raises(ValueError, match="only supported in .* mode"):
        client.models.generate_videos(
            model="veo-3.1-generate-preview",
            source=types.GenerateVideosSource(prompt="A paper boat on a rainy street"),
        )
    assert wire.requests == []
