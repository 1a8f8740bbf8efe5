"""The simulator's OpenRouter video API (``/api/v1/videos``), driven by the official
``openrouter`` SDK (1.3.84).

Whenever this file and the simulator disagree, the simulator is wrong: the expected
behaviour is the real service's, as recorded in /work/research/openrouter_google.md
section A (cited as "notes A<n>") and the samples in /work/research/payloads/openrouter/.

Facts relied on:
- Exactly four endpoints, no cancel and no list (A1): POST /videos answers **202**
  ``{id, polling_url, status: "pending"}`` (the SDK accepts only 202, A2); GET /videos/{id}
  is always 200 and goes pending → in_progress → completed | failed | cancelled | expired,
  ``error`` a plain string; GET …/content?index=N is raw bytes with ``Content-Type:
  video/mp4`` (the SDK accepts nothing else, A2); GET /videos/models is ``{data:
  [VideoModel]}`` with every required key present (A2, models_200.json).
- ``id`` looks like ``gen-vid-<timestamp>-<20 alnum>``; ``polling_url`` is relative
  ``/api/v1/videos/<id>``; completed jobs carry ``unsigned_urls`` (the content proxy,
  needs the key), ``expires_at`` (unix s) and ``usage {cost, is_byok}`` (A1,
  get_completed.json).
- Errors are ``{"error": {"code": <int = HTTP status>, "message": str}}`` and map to
  the typed SDK errors of the table in A2.
- The SDK retries 5XX for up to an hour by default, so every client here is built
  with retries off (A2).

The wire is observed with httpx event hooks on the ``httpx.Client`` handed to the SDK
(``OpenRouter(client=...)``, A2); the calls themselves are ordinary SDK calls.
"""

from __future__ import annotations

import base64
import io
import re
import time

import httpx
import pytest
import requests
from openrouter import OpenRouter, errors, utils
from openrouter.components import VideoModel
from PIL import Image

from webapp.simulator.server import SimulatorServer

KEY = "sim-key"
MODEL = "google/veo-3.1"  # the simulator's models list (and models_200.json)
NO_RETRIES = utils.RetryConfig("none", utils.BackoffStrategy(1, 1, 1, 1), False)  # notes A2
STATUSES = {"pending", "in_progress", "completed", "failed", "cancelled", "expired"}  # A1
TERMINAL = {"completed", "failed", "cancelled", "expired"}
ID_RE = re.compile(r"^gen-vid-\d+-[A-Za-z0-9]{20}$")  # A1 (SDK docstring)
REQUIRED_MODEL_KEYS = {  # notes A2: all required (nullable ones present, may be null)
    "allowed_passthrough_parameters",
    "canonical_slug",
    "created",
    "creativity",
    "generate_audio",
    "id",
    "name",
    "seed",
    "supported_aspect_ratios",
    "supported_durations",
    "supported_frame_images",
    "supported_resolutions",
    "supported_sizes",
    "upscale_factor",
}


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
    """What the SDK put on the wire and what came back (httpx event hooks)."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict]] = []
        self.responses: list[tuple[str, str, int, dict]] = []

    def on_request(self, request: httpx.Request):
        self.requests.append((request.method, request.url.path, dict(request.headers)))

    def on_response(self, response: httpx.Response):
        self.responses.append(
            (
                response.request.method,
                response.request.url.path,
                response.status_code,
                dict(response.headers),
            )
        )


@pytest.fixture
def wire():
    return Wire()


@pytest.fixture
def clients():
    """Every SDK client a test builds (kept referenced, closed at the end)."""
    made = []
    yield made
    for client, http in made:
        client.__exit__(None, None, None)
        http.close()


@pytest.fixture
def client(sim, wire, clients):
    return make_client(sim, clients, wire)


def make_client(sim, clients, wire=None, key=KEY):
    hooks = {"request": [wire.on_request], "response": [wire.on_response]} if wire else {}
    http = httpx.Client(follow_redirects=True, event_hooks=hooks)
    sdk = OpenRouter(
        api_key=key, server_url=f"{sim.url}/api/v1", retry_config=NO_RETRIES, client=http
    )
    sdk.__enter__()
    clients.append((sdk, http))
    return sdk


def png_data_url() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 40, 90)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def is_mp4(data: bytes) -> bool:
    return len(data) > 1000 and data[4:8] == b"ftyp"


def wait_done(client, sim, job_id, seen=None, rounds=20):
    """Poll the way a real caller does; skip the simulator clock between polls."""
    for _ in range(rounds):
        job = client.video_generation.get_generation(job_id=job_id)
        if seen is not None:
            seen.append(job.status)
        if job.status in TERMINAL:
            return job
        sim.advance(0.5)
    raise AssertionError(f"job {job_id} never finished: {seen}")


def generate(client, **kw):
    kw.setdefault("model", MODEL)
    kw.setdefault("prompt", "A golden retriever running on a beach at sunset")
    return client.video_generation.generate(**kw)


def assert_typed_error(exc: errors.OpenRouterError, status: int):
    """notes A1/A2: HTTP status == error.code (an int), a message, parsed into .data."""
    assert exc.status_code == status
    assert exc.data.error.code == status
    assert isinstance(exc.data.error.code, int)
    assert isinstance(exc.data.error.message, str) and exc.data.error.message
    assert exc.headers.get("content-type", "").startswith("application/json")


# --------------------------------------------------------------------------- happy path


def test_generate_answers_202_pending_with_id_and_relative_polling_url(client, wire):
    job = generate(client, duration=8, resolution="1080p", aspect_ratio="16:9", seed=42)

    method, path, status, headers = wire.responses[-1]
    assert (method, path, status) == ("POST", "/api/v1/videos", 202)
    assert headers["content-type"].startswith("application/json")
    assert job.status == "pending"
    assert ID_RE.match(job.id), job.id
    assert job.polling_url == f"/api/v1/videos/{job.id}"
    # and the SDK really sent the key as a Bearer token (A2)
    assert wire.requests[-1][2]["authorization"] == f"Bearer {KEY}"


def test_job_goes_pending_in_progress_completed(sim, client):
    sim.set_config(QUEUE_SECONDS=5)
    job = generate(client, duration=4)
    seen = [client.video_generation.get_generation(job_id=job.id).status]
    assert seen == ["pending"]
    sim.advance(5.2)
    seen.append(client.video_generation.get_generation(job_id=job.id).status)
    assert seen[-1] == "in_progress"
    done = wait_done(client, sim, job.id, seen)

    assert set(seen) <= STATUSES
    assert seen == sorted(seen, key=["pending", "in_progress", "completed"].index)
    assert done.status == "completed"
    assert done.error is None


def test_completed_job_has_cost_unsigned_urls_and_expiry(sim, client):
    job = generate(client, duration=8)
    done = wait_done(client, sim, job.id)

    assert done.id == job.id
    assert done.polling_url == f"/api/v1/videos/{job.id}"
    assert done.usage is not None
    assert isinstance(done.usage.cost, float) and done.usage.cost > 0
    assert done.usage.is_byok is False
    assert isinstance(done.expires_at, int) and done.expires_at > time.time()
    assert done.generation_id
    # unsigned_urls: the content proxy …/api/v1/videos/{id}/content?index=N (get_completed.json)
    assert done.unsigned_urls and len(done.unsigned_urls) >= 1
    url = done.unsigned_urls[0]
    assert url.endswith(f"/api/v1/videos/{job.id}/content?index=0")
    # … which needs the Authorization header (A1)
    assert requests.get(url, timeout=10).status_code == 401
    fetched = requests.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "video/mp4"
    assert is_mp4(fetched.content)


def test_get_video_content_returns_mp4_bytes(sim, client, wire):
    job = generate(client, duration=4)
    wait_done(client, sim, job.id)

    res = client.video_generation.get_video_content(job_id=job.id, index=0)
    data = res.read()

    assert res.status_code == 200
    assert res.headers["content-type"] == "video/mp4"
    assert is_mp4(data)
    method, path, headers = wire.requests[-1]
    assert (method, path) == ("GET", f"/api/v1/videos/{job.id}/content")
    assert headers["accept"] == "video/mp4"


def test_list_videos_models_has_every_required_key(sim, client):
    res = client.video_generation.list_videos_models()
    assert res.data, "the simulator should list at least one video model"
    raw = requests.get(
        f"{sim.url}/api/v1/videos/models",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    ).json()["data"]
    for model in raw:
        assert set(model) >= REQUIRED_MODEL_KEYS, REQUIRED_MODEL_KEYS - set(model)
        assert "pricing" not in model  # notes A2: no such field
        VideoModel.model_validate(model)
    ids = [m.id for m in res.data]
    assert MODEL in ids
    veo = next(m for m in res.data if m.id == MODEL)
    assert veo.supported_durations and all(isinstance(d, int) for d in veo.supported_durations)
    assert veo.canonical_slug and veo.name and isinstance(veo.created, int)


def test_first_frame_image_data_url_is_accepted(sim, client, wire):
    job = generate(
        client,
        prompt="The cat starts walking",
        duration=4,
        frame_images=[
            {
                "type": "image_url",
                "image_url": {"url": png_data_url()},
                "frame_type": "first_frame",
            }
        ],
    )
    assert wire.responses[-1][2] == 202
    assert job.status == "pending"
    done = wait_done(client, sim, job.id)
    assert done.status == "completed"
    assert is_mp4(client.video_generation.get_video_content(job_id=job.id).read())


def test_failed_job_is_200_with_status_failed_and_string_error(sim, client, wire):
    job = generate(client, prompt="[fail] something the provider rejects", duration=4)
    done = wait_done(client, sim, job.id)

    assert wire.responses[-1][2] == 200  # a job failure is still HTTP 200 (A1)
    assert done.status == "failed"
    assert isinstance(done.error, str) and done.error
    assert not done.unsigned_urls


def test_internal_failure_is_also_status_failed_with_string_error(sim, client):
    sim.set_config(FAILURE_RATE=1)
    job = generate(client, duration=4)
    done = wait_done(client, sim, job.id)
    assert done.status == "failed"
    assert isinstance(done.error, str) and done.error


def test_content_of_a_failed_job_is_not_a_video(sim, client):
    job = generate(client, prompt="[fail] rejected", duration=4)
    wait_done(client, sim, job.id)
    with pytest.raises(errors.OpenRouterError) as info:
        client.video_generation.get_video_content(job_id=job.id)
    assert 400 <= info.value.status_code < 500


def test_job_expires_after_expire_seconds(sim, client):
    sim.set_config(EXPIRE_SECONDS=5)
    job = generate(client, duration=4)
    done = wait_done(client, sim, job.id)
    assert done.status == "completed"
    assert done.expires_at <= int(time.time() + sim.state.offset) + 6

    sim.advance(10)
    expired = client.video_generation.get_generation(job_id=job.id)
    assert expired.status == "expired"
    assert expired.id == job.id
    with pytest.raises(errors.GoneResponseError) as info:  # A2: 410 on content
        client.video_generation.get_video_content(job_id=job.id)
    assert_typed_error(info.value, 410)


def test_sim_expire_marks_job_expired(sim, client):
    job = generate(client, duration=4)
    wait_done(client, sim, job.id)
    sim.expire(job.id)
    assert client.video_generation.get_generation(job_id=job.id).status == "expired"


def test_content_before_completion_is_409_conflict(sim, client):
    sim.set_config(QUEUE_SECONDS=30)
    job = generate(client, duration=4)
    with pytest.raises(errors.ConflictResponseError) as info:
        client.video_generation.get_video_content(job_id=job.id)
    assert_typed_error(info.value, 409)


# --------------------------------------------------------------------------- errors


def test_wrong_key_is_401_unauthorized_on_every_job_route(sim, clients):
    good = make_client(sim, clients)
    job = generate(good, duration=4)
    bad = make_client(sim, clients, key="not-the-key")

    with pytest.raises(errors.UnauthorizedResponseError) as info:
        generate(bad, duration=4)
    assert_typed_error(info.value, 401)
    with pytest.raises(errors.UnauthorizedResponseError) as info:
        bad.video_generation.get_generation(job_id=job.id)
    assert_typed_error(info.value, 401)
    wait_done(good, sim, job.id)
    with pytest.raises(errors.UnauthorizedResponseError) as info:
        bad.video_generation.get_video_content(job_id=job.id)
    assert_typed_error(info.value, 401)
    assert len(sim.ledger()) == 1  # the rejected create made no job


def test_unknown_job_is_404_not_found(client):
    missing = "gen-vid-1767312000-a1B2c3D4e5F6g7H8i9J0"
    with pytest.raises(errors.NotFoundResponseError) as info:
        client.video_generation.get_generation(job_id=missing)
    assert_typed_error(info.value, 404)
    with pytest.raises(errors.NotFoundResponseError) as info:
        client.video_generation.get_video_content(job_id=missing)
    assert_typed_error(info.value, 404)


@pytest.mark.parametrize(
    "kw",
    [
        {"duration": 7},  # error_400.json: "Invalid duration 7 for model google/veo-3.1"
        {"size": "640x480"},
        {"resolution": "4K"},
        {"aspect_ratio": "21:9"},
        {"model": "not-a/video-model"},
    ],
    ids=["duration", "size", "resolution", "aspect_ratio", "model"],
)
def test_unsupported_parameter_is_400_bad_request(sim, client, kw):
    with pytest.raises(errors.BadRequestResponseError) as info:
        generate(client, **kw)
    assert_typed_error(info.value, 400)
    assert sim.ledger() == []


def test_rate_limit_is_429_too_many_requests_with_retry_after(sim, client):
    sim.add_faults([{"op": "create", "kind": "429", "protocol": "openrouter", "retry_after": 20}])
    with pytest.raises(errors.TooManyRequestsResponseError) as info:
        generate(client, duration=4)
    assert_typed_error(info.value, 429)
    assert info.value.headers.get("retry-after") == "20"
    assert sim.ledger() == []
    # the fault was one-shot: the next create goes through
    assert generate(client, duration=4).status == "pending"


def test_server_errors_map_to_typed_sdk_errors(sim, client):
    sim.add_faults([{"op": "create", "kind": "503", "protocol": "openrouter"}])
    with pytest.raises(errors.ServiceUnavailableResponseError) as info:
        generate(client, duration=4)
    assert_typed_error(info.value, 503)

    job = generate(client, duration=4)
    sim.add_faults([{"op": "status", "kind": "500", "protocol": "openrouter"}])
    with pytest.raises(errors.InternalServerResponseError) as info:
        client.video_generation.get_generation(job_id=job.id)
    assert_typed_error(info.value, 500)

    wait_done(client, sim, job.id)
    sim.add_faults([{"op": "content", "kind": "502", "protocol": "openrouter"}])
    with pytest.raises(errors.BadGatewayResponseError) as info:
        client.video_generation.get_video_content(job_id=job.id)
    assert_typed_error(info.value, 502)


def test_content_index_out_of_range_is_a_typed_client_error(sim, client):
    job = generate(client, duration=4)
    done = wait_done(client, sim, job.id)
    count = len(done.unsigned_urls or [])
    assert count == 1
    with pytest.raises((errors.NotFoundResponseError, errors.BadRequestResponseError)) as info:
        client.video_generation.get_video_content(job_id=job.id, index=count)
    assert_typed_error(info.value, info.value.status_code)


def test_there_is_no_cancel_or_list_route(sim, client):
    # notes A1: exactly four endpoints; the SDK has no cancel and no list operation
    ops = {name for name in dir(client.video_generation) if not name.startswith("_")}
    assert not {"cancel", "cancel_generation", "list", "list_videos", "delete"} & ops

    job = generate(client, duration=4)
    auth = {"Authorization": f"Bearer {KEY}"}
    listed = requests.get(f"{sim.url}/api/v1/videos", headers=auth, timeout=10)
    assert not listed.ok, listed.status_code
    for method in ("DELETE", "POST"):
        path = f"{sim.url}/api/v1/videos/{job.id}" + ("/cancel" if method == "POST" else "")
        res = requests.request(method, path, headers=auth, timeout=10)
        assert not res.ok, (method, res.status_code)
    deleted = requests.delete(f"{sim.url}/api/v1/videos/{job.id}", headers=auth, timeout=10)
    assert not deleted.ok
    # and the job is untouched
    assert client.video_generation.get_generation(job_id=job.id).status in STATUSES - {"cancelled"}
    assert not sim.ledger()[0]["stop_requested"]


def test_every_advertised_option_is_accepted_by_generate(sim, client):
    """What /videos/models advertises for a model, POST /videos must take (A1/A2)."""
    for model in client.video_generation.list_videos_models().data:
        for duration in model.supported_durations or []:
            assert generate(client, model=model.id, duration=duration).status == "pending"
        for resolution in model.supported_resolutions or []:
            for ratio in model.supported_aspect_ratios or []:
                job = generate(client, model=model.id, resolution=resolution, aspect_ratio=ratio)
                assert job.status == "pending", (model.id, resolution, ratio)
        for size in model.supported_sizes or []:
            assert generate(client, model=model.id, size=size).status == "pending"
