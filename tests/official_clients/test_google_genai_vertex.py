"""The simulator's Veo on Vertex AI (``predictLongRunning`` / ``fetchPredictOperation``),
its OAuth token endpoint and its Cloud Storage download, driven by the official
``google-genai`` (3.6.1) and ``google-auth`` (2.63.0) clients.

Whenever this file and the simulator disagree, the simulator is wrong: the expected
behaviour is the real service's, as recorded in /work/research/openrouter_google.md
sections B1, B2 and B4 (cited as "notes B<n>") and the samples in
/work/research/payloads/vertex/.

Facts relied on:
- Create is POST ``{base}/{ver}/projects/{p}/locations/{l}/publishers/google/models/{m}:
  predictLongRunning`` with ``Authorization: Bearer <token>``; ``ver`` is ``v1beta1`` by
  default, ``v1`` when asked; the answer is HTTP **200** ``{name}`` (the SDK accepts only
  200) (B1, B2).
- ``operations.get(op)`` is POST ``…/{m}:fetchPredictOperation`` with ``{operationName}``;
  running → ``{name}`` (``done`` None); done → ``response.videos[]`` with ``gcsUri`` when
  ``storageUri`` was set, else ``bytesBase64Encoded``; a failure is 200 ``done`` +
  ``error`` (no exception); a filtered job is ``raiMediaFilteredCount > 0`` and no
  videos (B1, fetchPredictOperation_*.json).
- Errors use ``{"error": {code, message, status}}``; 4xx → ``errors.ClientError`` with
  ``.code`` and ``.status`` (401 UNAUTHENTICATED, 404 NOT_FOUND, 400 INVALID_ARGUMENT,
  429 RESOURCE_EXHAUSTED), 5xx → ``errors.ServerError`` (B1, error_*.json). No retries
  by default (B4).
- Service-account key files: google-auth POSTs the JWT-bearer grant (form-encoded) to the
  file's ``token_uri`` and uses the returned ``access_token`` as the Bearer token (B2).
- Keep a reference to every client: a garbage-collected client is closed (B4).

The wire is observed with httpx2 event hooks passed through ``HttpOptions.client_args``;
the calls themselves are ordinary SDK calls.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.parse

import google.auth.transport.requests  # noqa: F401  (the token transport google-auth uses)
import google.oauth2.credentials
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google import genai
from google.genai import errors, types
from google.oauth2 import service_account
from PIL import Image

from webapp.simulator.server import SimulatorServer

KEY = "sim-key"
PROJECT = "proj"
LOCATION = "us-central1"
MODEL = "veo-3.1-generate-001"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MODEL_PATH = f"projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{MODEL}"


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
    """What the SDK put on the wire and what came back (httpx2 event hooks)."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict, bytes]] = []
        self.responses: list[tuple[str, int, dict]] = []

    def on_request(self, request):
        self.requests.append(
            (request.method, request.url.path, dict(request.headers), request.content)
        )

    def on_response(self, response):
        self.responses.append(
            (response.request.url.path, response.status_code, dict(response.headers))
        )


@pytest.fixture
def wire():
    return Wire()


@pytest.fixture
def clients():
    """Every client a test builds stays referenced until the test ends (notes B4)."""
    made: list[genai.Client] = []
    yield made
    for c in made:
        c.close()


def make_client(sim, clients, wire=None, credentials=None, api_version="v1"):
    opts = {"base_url": sim.url + "/"}
    if api_version:
        opts["api_version"] = api_version
    if wire is not None:
        opts["client_args"] = {
            "event_hooks": {"request": [wire.on_request], "response": [wire.on_response]}
        }
    if credentials is None:
        credentials = google.oauth2.credentials.Credentials(token=KEY)
    c = genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=credentials,
        http_options=types.HttpOptions(**opts),
    )
    clients.append(c)
    return c


@pytest.fixture
def client(sim, wire, clients):
    return make_client(sim, clients, wire)


def generate(client, prompt="A neon hologram of a cat driving at top speed", image=None, **cfg):
    cfg.setdefault("duration_seconds", 4)
    cfg.setdefault("aspect_ratio", "16:9")
    return client.models.generate_videos(
        model=MODEL,
        source=types.GenerateVideosSource(prompt=prompt, image=image),
        config=types.GenerateVideosConfig(**cfg),
    )


def wait_done(client, sim, op, rounds=20):
    """Poll the way the docs do (``while not op.done``), skipping the simulator clock."""
    for _ in range(rounds):
        if op.done:
            return op
        sim.advance(0.5)
        op = client.operations.get(op)
    raise AssertionError(f"operation {op.name} never finished")


def is_mp4(data: bytes) -> bool:
    return isinstance(data, bytes) and len(data) > 1000 and data[4:8] == b"ftyp"


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (30, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def gcs_download(sim, gs_uri: str, token: str = KEY) -> requests.Response:
    """Cloud Storage JSON API media download: GET /storage/v1/b/{bucket}/o/{object}?alt=media
    with the object name URL-encoded (slashes as %2F) and a Bearer token."""
    assert gs_uri.startswith("gs://")
    bucket, _, obj = gs_uri[5:].partition("/")
    url = f"{sim.url}/storage/v1/b/{bucket}/o/{urllib.parse.quote(obj, safe='')}"
    return requests.get(
        url, params={"alt": "media"}, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def assert_client_error(err: errors.APIError, code: int, status: str):
    assert isinstance(err, errors.ClientError)
    assert err.code == code, (err.code, err.status, err.details)
    assert err.status == status
    assert isinstance(err.details, dict) and err.details["error"]["code"] == code
    assert err.details["error"]["status"] == status
    assert err.message


# --------------------------------------------------------------------------- happy path


def test_create_posts_predict_long_running_and_gets_200_name(client, wire):
    op = generate(client, duration_seconds=8, aspect_ratio="16:9")

    method, path, headers, body = wire.requests[-1]
    assert (method, path) == ("POST", f"/v1/{MODEL_PATH}:predictLongRunning")
    assert headers["authorization"] == f"Bearer {KEY}"
    sent = json.loads(body)
    assert sent["instances"][0]["prompt"].startswith("A neon hologram")
    assert sent["parameters"]["durationSeconds"] == 8
    assert wire.responses[-1][1] == 200
    assert op.name.startswith(MODEL_PATH + "/operations/")
    assert not op.done


def test_poll_until_done_returns_inline_mp4_bytes(sim, client, wire):
    op = generate(client)
    op = client.operations.get(op)
    method, path, _, body = wire.requests[-1]
    assert (method, path) == ("POST", f"/v1/{MODEL_PATH}:fetchPredictOperation")
    assert json.loads(body) == {"operationName": op.name}
    assert wire.responses[-1][1] == 200
    assert op.done is None  # still running: no ``done`` key (B1)

    op = wait_done(client, sim, op)
    assert op.done is True
    assert op.error is None
    assert op.response is not None
    assert op.response.rai_media_filtered_count in (0, None)
    videos = op.response.generated_videos
    assert videos and len(videos) == 1
    video = videos[0].video
    assert video.uri is None
    assert video.mime_type == "video/mp4"
    assert is_mp4(video.video_bytes)
    assert op.result is not None and op.result.generated_videos[0].video.video_bytes


def test_output_gcs_uri_gives_gs_uri_downloadable_from_storage(sim, client):
    op = generate(client, output_gcs_uri="gs://reelay-out/jobs/123/", aspect_ratio="9:16")
    op = wait_done(client, sim, op)

    video = op.response.generated_videos[0].video
    assert video.video_bytes is None
    assert video.mime_type == "video/mp4"
    assert video.uri.startswith("gs://reelay-out/jobs/123/")
    assert video.uri.endswith(".mp4")

    res = gcs_download(sim, video.uri)
    assert res.status_code == 200, res.text[:300]
    assert res.headers["Content-Type"] == "video/mp4"
    assert is_mp4(res.content)
    # the download needs the bearer token like every other Google API
    assert gcs_download(sim, video.uri, token="wrong").status_code == 401


def test_gcs_result_in_bucket_root(sim, client):
    op = wait_done(client, sim, generate(client, output_gcs_uri="gs://reelay-root"))
    uri = op.response.generated_videos[0].video.uri
    assert uri.startswith("gs://reelay-root/") and uri.endswith(".mp4")
    res = gcs_download(sim, uri)
    assert res.status_code == 200 and is_mp4(res.content)


def test_gcs_object_name_that_was_never_written_is_404(sim, client):
    """Cloud Storage serves only objects that exist: another name under the same job's
    prefix was never written, so objects.get?alt=media is 404."""
    op = wait_done(client, sim, generate(client, output_gcs_uri="gs://reelay-out/a/"))
    uri = op.response.generated_videos[0].video.uri
    assert gcs_download(sim, uri).status_code == 200
    assert gcs_download(sim, uri.replace("sample_0.mp4", "sample_9.mp4")).status_code == 404
    assert gcs_download(sim, uri.replace("sample_0.mp4", "notes.txt")).status_code == 404


def test_gcs_object_in_another_bucket_is_404(sim, client):
    op = wait_done(client, sim, generate(client, output_gcs_uri="gs://reelay-out/a/"))
    uri = op.response.generated_videos[0].video.uri
    assert (
        gcs_download(sim, uri.replace("gs://reelay-out/", "gs://other-bucket/")).status_code == 404
    )
    assert gcs_download(sim, uri.replace("/a/", "/b/")).status_code == 404


def test_number_of_videos_gives_that_many_samples(sim, client, wire):
    """number_of_videos → parameters.sampleCount (B1); the done response has one entry in
    response.videos per sample (fetchPredictOperation_done_*.json)."""
    op = generate(client, number_of_videos=2, output_gcs_uri="gs://reelay-out/multi/")
    assert json.loads(wire.requests[-1][3])["parameters"]["sampleCount"] == 2
    op = wait_done(client, sim, op)
    videos = op.response.generated_videos
    assert videos is not None and len(videos) == 2
    uris = [v.video.uri for v in videos]
    assert len(set(uris)) == 2
    for uri in uris:
        res = gcs_download(sim, uri)
        assert res.status_code == 200 and is_mp4(res.content)


def test_number_of_videos_inline_bytes(sim, client):
    op = wait_done(client, sim, generate(client, number_of_videos=2))
    videos = op.response.generated_videos
    assert videos is not None and len(videos) == 2
    assert all(is_mp4(v.video.video_bytes) for v in videos)


def test_full_documented_config_is_accepted(sim, client, wire):
    """The request shape of predictLongRunning_request.json (B1)."""
    op = generate(
        client,
        prompt="A neon hologram of a cat driving at top speed",
        image=types.Image(image_bytes=png_bytes(), mime_type="image/png"),
        number_of_videos=1,
        output_gcs_uri="gs://reelay-out/jobs/123/",
        duration_seconds=8,
        seed=7,
        aspect_ratio="16:9",
        resolution="1080p",
        person_generation="allow_adult",
        negative_prompt="blurry, low quality",
        generate_audio=True,
    )
    assert wire.responses[-1][1] == 200
    op = wait_done(client, sim, op)
    assert op.error is None
    assert op.response.generated_videos[0].video.uri.startswith("gs://reelay-out/jobs/123/")


def test_default_api_version_is_v1beta1(sim, clients, wire):
    c = make_client(sim, clients, wire, api_version=None)
    op = generate(c)
    assert wire.requests[-1][1] == f"/v1beta1/{MODEL_PATH}:predictLongRunning"
    assert wire.responses[-1][1] == 200
    op = wait_done(c, sim, op)
    assert wire.requests[-1][1] == f"/v1beta1/{MODEL_PATH}:fetchPredictOperation"
    assert is_mp4(op.response.generated_videos[0].video.video_bytes)


def test_image_to_video_with_image_bytes(sim, client, wire):
    image = types.Image(image_bytes=png_bytes(), mime_type="image/png")
    op = generate(client, prompt="The cat starts walking", image=image, duration_seconds=6)

    sent = json.loads(wire.requests[-1][3])
    assert sent["instances"][0]["image"]["mimeType"] == "image/png"
    assert base64.b64decode(sent["instances"][0]["image"]["bytesBase64Encoded"]) == png_bytes()
    assert wire.responses[-1][1] == 200
    op = wait_done(client, sim, op)
    assert op.error is None
    assert is_mp4(op.response.generated_videos[0].video.video_bytes)


def test_image_to_video_with_gcs_image(sim, client):
    image = types.Image(gcs_uri="gs://reelay-in/first.png", mime_type="image/png")
    op = wait_done(client, sim, generate(client, prompt="The cat starts walking", image=image))
    assert op.error is None
    assert op.response.generated_videos


def test_filtered_job_is_done_with_rai_count_and_no_videos(sim, client):
    op = wait_done(client, sim, generate(client, prompt="[fail] something the filter blocks"))
    assert op.done is True
    assert op.error is None
    assert op.response.rai_media_filtered_count and op.response.rai_media_filtered_count > 0
    assert op.response.rai_media_filtered_reasons
    assert not op.response.generated_videos


def test_internal_error_sets_op_error_without_raising(sim, client, wire):
    sim.set_config(FAILURE_RATE=1)
    op = wait_done(client, sim, generate(client))
    assert wire.responses[-1][1] == 200  # a failed job is still HTTP 200 (B1)
    assert op.done is True
    assert op.error and isinstance(op.error.get("code"), int) and op.error["code"] != 0
    assert op.error.get("message")
    assert op.response is None or not op.response.generated_videos


# --------------------------------------------------------------------------- errors


def test_wrong_token_is_401_unauthenticated(sim, clients, client):
    bad = make_client(
        sim, clients, credentials=google.oauth2.credentials.Credentials(token="wrong-token")
    )
    with pytest.raises(errors.ClientError) as info:
        generate(bad)
    assert_client_error(info.value, 401, "UNAUTHENTICATED")
    assert sim.ledger() == []

    op = generate(client)  # a real operation, polled with the wrong token
    with pytest.raises(errors.ClientError) as info:
        bad.operations.get(op)
    assert_client_error(info.value, 401, "UNAUTHENTICATED")


def test_unknown_model_is_404_not_found(client):
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_videos(
            model="veo-9.9-generate-001",
            source=types.GenerateVideosSource(prompt="x"),
            config=types.GenerateVideosConfig(duration_seconds=4),
        )
    assert_client_error(info.value, 404, "NOT_FOUND")
    assert "veo-9.9-generate-001" in info.value.message


@pytest.mark.parametrize("cfg", [{"duration_seconds": 12}, {"aspect_ratio": "4:3"}])
def test_bad_parameter_is_400_invalid_argument(sim, client, cfg):
    with pytest.raises(errors.ClientError) as info:
        generate(client, **cfg)
    assert_client_error(info.value, 400, "INVALID_ARGUMENT")
    assert sim.ledger() == []


def test_quota_is_429_resource_exhausted_not_retried(sim, client, wire):
    sim.add_faults([{"op": "create", "kind": "429", "protocol": "vertex"}])
    with pytest.raises(errors.ClientError) as info:
        generate(client)
    assert_client_error(info.value, 429, "RESOURCE_EXHAUSTED")
    assert len(wire.requests) == 1  # no retries by default (B4)
    assert sim.ledger() == []
    assert generate(client).name  # one-shot fault


def test_server_error_on_poll_is_server_error(sim, client):
    op = generate(client)
    sim.add_faults([{"op": "status", "kind": "503", "protocol": "vertex"}])
    with pytest.raises(errors.ServerError) as info:
        client.operations.get(op)
    assert info.value.code == 503
    assert info.value.status == "UNAVAILABLE"
    assert wait_done(client, sim, client.operations.get(op)).done  # recovers


def test_unknown_operation_is_404(client):
    op = types.GenerateVideosOperation(name=f"{MODEL_PATH}/operations/no-such-operation")
    with pytest.raises(errors.ClientError) as info:
        client.operations.get(op)
    assert_client_error(info.value, 404, "NOT_FOUND")


# --------------------------------------------------------------------------- service account


def _key_file(tmp_path, token_uri: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "abc123",
        "private_key": pem,
        "client_email": f"reelay@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    return str(path)


@pytest.fixture
def token_calls(monkeypatch):
    """Every HTTP request google-auth sends through ``requests`` (its token transport)."""
    calls: list[dict] = []
    real = requests.Session.request

    def spy(self, method, url, *args, **kwargs):
        res = real(self, method, url, *args, **kwargs)
        calls.append(
            {
                "method": method,
                "url": url,
                "data": kwargs.get("data"),
                "headers": dict(kwargs.get("headers") or {}),
                "status": res.status_code,
                "body": res.content,
            }
        )
        return res

    monkeypatch.setattr(requests.Session, "request", spy)
    return calls


def test_service_account_key_file_flow(sim, clients, wire, tmp_path, token_calls):
    path = _key_file(tmp_path, f"{sim.url}/token")
    creds = service_account.Credentials.from_service_account_file(path, scopes=[SCOPE])
    assert creds.token is None
    c = make_client(sim, clients, wire, credentials=creds)

    op = generate(c)
    op = wait_done(c, sim, op)

    # the token exchange happened, against the key file's token_uri, exactly once
    tokens = [t for t in token_calls if t["url"] == f"{sim.url}/token"]
    assert len(tokens) == 1, token_calls
    form = tokens[0]["data"]
    grant = urllib.parse.parse_qs(form.decode() if isinstance(form, bytes) else form)
    assert grant["grant_type"] == [JWT_BEARER]
    assert grant["assertion"][0].count(".") == 2
    assert tokens[0]["status"] == 200
    answer = json.loads(tokens[0]["body"])
    assert answer["access_token"] and answer["token_type"] == "Bearer"
    assert int(answer["expires_in"]) > 0
    assert creds.token == answer["access_token"]
    assert creds.valid and creds.expiry is not None

    # … and that token is the Bearer of every API call
    assert {r[2]["authorization"] for r in wire.requests} == {f"Bearer {creds.token}"}
    assert len(sim.ledger()) == 1
    assert op.error is None
    assert is_mp4(op.response.generated_videos[0].video.video_bytes)


def test_token_endpoint_rejects_a_bad_grant(sim):
    res = requests.post(
        f"{sim.url}/token",
        data={"grant_type": "password", "assertion": "x"},
        timeout=10,
    )
    assert res.status_code == 400
    assert res.json()["error"] == "invalid_grant" or res.json()["error"].startswith("unsupported")
