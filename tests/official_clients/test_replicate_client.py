"""The simulator's Replicate predictions API, driven by the official ``replicate``
client (1.0.7).

Whenever this file and the simulator disagree, the simulator is wrong: the expected
behaviour is the real Replicate API's, as written down in
/work/research/fal_replicate.md (section B, cited below as "notes B1/B2/D<n>") and
the sample payloads in /work/research/payloads/replicate/.

The client is pointed at the simulator with ``replicate.Client(api_token=...,
base_url=sim.url)`` (notes B2 "Base URL and auth"). Raw wire facts that the client
hides (HTTP status codes, request headers, the ``invalid_fields`` that ReplicateError
drops) are read from an httpx response hook passed through the Client's own kwargs.
The calls themselves are still made by the client. Retries happen inside the
client's RetryTransport, below that hook, so they are counted on the simulator.
"""

from __future__ import annotations

import io
import time

import pytest
import replicate
from PIL import Image
from replicate.exceptions import ModelError, ReplicateError
from replicate.helpers import FileOutput

from webapp.simulator.server import SimulatorServer

KEY = "sim-key"
VIDEO_MODEL = "kwaivgi/kling-v2.1"
IMAGE_MODEL = "black-forest-labs/flux-schnell"
VERSION_ID = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
TERMINAL = {"succeeded", "failed", "canceled"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sim():
    server = SimulatorServer({"API_KEY": KEY, "QUEUE_SECONDS": 0, "RUN_SECONDS": 1}).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_sim(sim, monkeypatch):
    sim.reset()
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.1")  # read by Client.__init__
    yield
    sim.reset()


class Wire:
    """Every final HTTP response the client's httpx.Client saw, with the body read."""

    def __init__(self) -> None:
        self.responses = []

    def __call__(self, response) -> None:
        response.read()
        self.responses.append(response)

    def last(self, method: str, path: str):
        found = [
            r for r in self.responses if r.request.method == method and r.request.url.path == path
        ]
        assert found, f"no {method} {path}: {[str(r.url) for r in self.responses]}"
        return found[-1]


@pytest.fixture
def wire():
    return Wire()


def _make_client(sim, wire, token: str = KEY) -> replicate.Client:
    # event_hooks goes through Client(**kwargs) to httpx.Client (client.py:365)
    return replicate.Client(api_token=token, base_url=sim.url, event_hooks={"response": [wire]})


@pytest.fixture
def client(sim, wire):
    return _make_client(sim, wire)


def _video_input(prompt: str = "a red fox running through snow") -> dict:
    return {"prompt": prompt, "duration": 5, "aspect_ratio": "16:9"}


def _download(client: replicate.Client, url: str) -> bytes:
    # What FileOutput.read() does: GET with the API client, Bearer token included
    # (notes B2 "FileOutput", D15).
    return FileOutput(url, client).read()


# --------------------------------------------------------------------------- create / get


def test_create_on_model_endpoint_is_201_starting(sim, client, wire):
    sim.set_config(QUEUE_SECONDS=30, RUN_SECONDS=30)
    p = client.models.predictions.create(model=VIDEO_MODEL, input=_video_input())

    resp = wire.last("POST", f"/v1/models/{VIDEO_MODEL}/predictions")
    assert resp.status_code == 201  # notes B1 create: returns 201
    assert resp.request.headers["authorization"] == f"Bearer {KEY}"  # notes D5
    assert "prefer" not in resp.request.headers  # no wait= given
    assert p.status == "starting"
    assert p.model == VIDEO_MODEL
    assert isinstance(p.version, str) and p.version
    assert p.input["prompt"] == "a red fox running through snow"
    assert p.output is None and p.error is None
    assert p.created_at
    assert p.urls["get"] == f"{sim.url}/v1/predictions/{p.id}"
    assert p.urls["cancel"] == f"{sim.url}/v1/predictions/{p.id}/cancel"


def test_create_on_versions_endpoint(sim, client, wire):
    p = client.predictions.create(version=f"{VIDEO_MODEL}:{VERSION_ID}", input=_video_input())
    resp = wire.last("POST", "/v1/predictions")
    assert resp.status_code == 201
    assert resp.request.read() and b'"version"' in resp.request.content
    assert p.model == VIDEO_MODEL
    assert p.version == VERSION_ID


def test_get_walks_starting_processing_succeeded(sim, client, wire):
    sim.set_config(QUEUE_SECONDS=30, RUN_SECONDS=30)
    p = client.models.predictions.create(model=VIDEO_MODEL, input=_video_input())

    got = client.predictions.get(p.id)
    assert got.status == "starting" and got.started_at is None

    sim.advance(31)
    got = client.predictions.get(p.id)
    assert got.status == "processing"
    assert got.started_at and got.completed_at is None
    assert got.output is None

    sim.advance(30)
    p.reload()
    assert p.status == "succeeded"
    assert wire.last("GET", f"/v1/predictions/{p.id}").status_code == 200
    assert p.completed_at and p.error is None
    assert isinstance(p.metrics.get("predict_time"), (int, float))
    # notes B1 prediction object: video models return a single URL string
    assert isinstance(p.output, str)


def test_wait_polls_to_success_and_output_downloads(sim, client):
    p = client.models.predictions.create(model=VIDEO_MODEL, input=_video_input())
    p.wait()
    assert p.status == "succeeded"
    assert isinstance(p.output, str)
    data = _download(client, p.output)
    assert data[4:8] == b"ftyp"


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("model", [VIDEO_MODEL, IMAGE_MODEL])
def test_run_returns_file_outputs(sim, client, model):
    """notes B2 "FileOutput" / D15: run(use_file_output=True) wraps only https:/data:
    strings; real outputs are https URLs on replicate.delivery (notes B1 prediction
    object, C checklist "Serve outputs as https (or data:) URLs"). wait=False makes
    run() poll, so this does not depend on Prefer: wait."""
    sim.set_config(REPLICATE_DATA_OUTPUTS=True)  # the simulator speaks http, not https
    try:
        out = client.run(model, input={"prompt": "a red fox in the snow"}, wait=False)
    finally:
        sim.set_config(REPLICATE_DATA_OUTPUTS=False)
    items = out if model == IMAGE_MODEL else [out]
    assert items, out
    for item in items:
        assert isinstance(item, FileOutput), f"plain {type(item).__name__}: {item!r}"
        assert item.read()


def test_image_model_output_is_a_list_of_image_urls(sim, client, wire):
    """notes B1: image models usually return a list of URLs."""
    p = client.models.predictions.create(model=IMAGE_MODEL, input={"prompt": "a red fox"})
    p.wait()
    assert p.status == "succeeded"
    assert isinstance(p.output, list) and p.output
    for url in p.output:
        assert isinstance(url, str)
        img = Image.open(io.BytesIO(_download(client, url)))
        img.verify()


def test_output_is_removed_after_retention(sim, client, wire):
    """notes B1: API data is removed after 1 h: data_removed true, output null."""
    p = client.models.predictions.create(model=VIDEO_MODEL, input=_video_input())
    p.wait()
    sim.expire(p.id)
    got = client.predictions.get(p.id)
    assert got.status == "succeeded"
    assert got.output is None
    assert wire.last("GET", f"/v1/predictions/{p.id}").json()["data_removed"] is True


# --------------------------------------------------------------------------- Prefer: wait


def test_models_create_with_wait_holds_until_done(sim, client, wire):
    """notes B1 "Prefer: wait": the server holds the request until the prediction
    finishes or n seconds pass (payload create_201_prefer_wait_succeeded.json)."""
    p = client.models.predictions.create(model=VIDEO_MODEL, input=_video_input(), wait=10)
    resp = wire.last("POST", f"/v1/models/{VIDEO_MODEL}/predictions")
    assert resp.request.headers["prefer"] == "wait=10"
    assert resp.status_code == 201
    assert p.status == "succeeded", f"returned {p.status!r} despite Prefer: wait=10"
    assert isinstance(p.output, str)


def test_versions_create_with_wait_holds_until_done(sim, client, wire):
    p = client.predictions.create(version=VERSION_ID, input=_video_input(), wait=10)
    resp = wire.last("POST", "/v1/predictions")
    assert resp.request.headers["prefer"] == "wait=10"
    assert resp.status_code == 201
    assert p.status == "succeeded", f"returned {p.status!r} despite Prefer: wait=10"
    assert isinstance(p.output, str)


def test_wait_that_runs_out_returns_starting_after_holding(sim, client, wire):
    """notes B1 / D10: after n seconds the server returns 201 with the prediction in
    whatever state it is in, documented (RB) as "starting" on timeout; run() relies on
    that to decide to poll (notes B2 run())."""
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=60)
    t0 = time.monotonic()
    p = client.models.predictions.create(model=VIDEO_MODEL, input=_video_input(), wait=2)
    elapsed = time.monotonic() - t0
    assert wire.last("POST", f"/v1/models/{VIDEO_MODEL}/predictions").status_code == 201
    assert elapsed >= 1.8, f"answered after {elapsed:.2f}s, Prefer: wait=2 was not held"
    assert p.status == "starting"


def test_run_blocks_and_returns_the_output(sim, client):
    """notes B2 run(): wait=True by default (Prefer: wait, up to 60 s); the job takes
    1 s here, so the held response is already succeeded and run() returns its output."""
    out = client.run(VIDEO_MODEL, input=_video_input(), use_file_output=False)
    assert isinstance(out, str), f"run() returned {out!r}"


def test_run_with_short_wait_falls_back_to_polling(sim, client):
    """notes B2 run(): it only polls if the returned status is "starting"; a
    "processing" reply is treated as final and output None is returned."""
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=3)
    out = client.run(VIDEO_MODEL, input=_video_input(), wait=1, use_file_output=False)
    assert isinstance(out, str), f"run() returned {out!r}"


# --------------------------------------------------------------------------- failures


def test_failed_prediction_reports_error(sim, client, wire):
    """notes B1: a failed prediction is still HTTP 200, status failed, error set."""
    p = client.models.predictions.create(
        model=VIDEO_MODEL, input=_video_input("[fail] something flagged")
    )
    p.wait()
    assert p.status == "failed"
    assert isinstance(p.error, str) and p.error
    assert p.output is None
    assert wire.last("GET", f"/v1/predictions/{p.id}").status_code == 200


def test_run_of_failed_prediction_raises_model_error(sim, client):
    """notes B2 run(): failed raises ModelError(prediction)."""
    with pytest.raises(ModelError) as info:
        client.run(VIDEO_MODEL, input=_video_input("[fail] something flagged"))
    assert info.value.prediction.status == "failed"
    assert info.value.prediction.error


# --------------------------------------------------------------------------- cancel


def test_cancel_starting_prediction(sim, client, wire):
    """notes B1 cancel / D4: POST …/cancel -> 200 with the prediction, status canceled."""
    sim.set_config(QUEUE_SECONDS=30, RUN_SECONDS=30)
    p = client.models.predictions.create(model=VIDEO_MODEL, input=_video_input())
    canceled = client.predictions.cancel(p.id)
    resp = wire.last("POST", f"/v1/predictions/{p.id}/cancel")
    assert resp.status_code == 200
    assert canceled.id == p.id and canceled.status == "canceled"
    assert client.predictions.get(p.id).status == "canceled"
    assert sim.ledger()[0]["stop_requested"] is True


def test_cancel_processing_prediction_via_the_prediction(sim, client):
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=30)
    p = client.models.predictions.create(model=VIDEO_MODEL, input=_video_input())
    p.reload()
    assert p.status == "processing"
    p.cancel()
    assert p.status == "canceled"
    p.wait()  # canceled is terminal for wait() (notes B2 Parsing)
    assert p.status == "canceled"


# --------------------------------------------------------------------------- list


def test_list_is_newest_first(sim, client):
    ids = [
        client.models.predictions.create(model=VIDEO_MODEL, input=_video_input(f"n{i}")).id
        for i in range(3)
    ]
    page = client.predictions.list()
    assert [p.id for p in page.results] == ids[::-1]
    assert page.next is None and page.previous is None


def test_list_paginates_with_absolute_next(sim, client):
    """notes B1 list: 100 per page, newest first; next is an absolute URL, which the
    1.0.7 client GETs verbatim."""
    ids = [
        client.models.predictions.create(model=VIDEO_MODEL, input=_video_input(f"n{i}")).id
        for i in range(101)
    ]
    first = client.predictions.list()
    assert len(first.results) == 100
    assert first.next and first.next.startswith(f"{sim.url}/v1/predictions")
    second = client.predictions.list(first.next)
    assert second.next is None
    seen = [p.id for page in replicate.paginate(client.predictions.list) for p in page]
    assert seen == ids[::-1]
    assert [p.id for p in first.results + second.results] == ids[::-1]


# --------------------------------------------------------------------------- errors


def test_bad_token_is_401(sim, wire):
    bad = _make_client(sim, wire, token="not-the-key")
    with pytest.raises(ReplicateError) as info:
        bad.models.predictions.create(model=VIDEO_MODEL, input=_video_input())
    err = info.value
    assert err.status == 401
    # notes B1 errors table (payload error_401_unauthenticated.json)
    assert err.title == "Unauthenticated"
    assert err.detail == "You did not pass a valid authentication token"
    assert sim.ledger() == []

    with pytest.raises(ReplicateError) as info:
        bad.predictions.list()
    assert info.value.status == 401


def test_unknown_prediction_is_404(sim, client):
    with pytest.raises(ReplicateError) as info:
        client.predictions.get("doesnotexist0000000000000")
    assert info.value.status == 404
    assert isinstance(info.value.detail, str)
    with pytest.raises(ReplicateError) as info:
        client.predictions.cancel("doesnotexist0000000000000")
    assert info.value.status == 404


def test_missing_required_input_is_422_with_invalid_fields(sim, client, wire):
    """notes B1 errors table / D14: 422 {"title": "Input validation failed", detail,
    status, invalid_fields: [{type, field, description}]} (payload
    error_422_input_validation.json). ReplicateError drops invalid_fields, so it is
    read from the raw response."""
    with pytest.raises(ReplicateError) as info:
        client.models.predictions.create(model=VIDEO_MODEL, input={"duration": 5})
    err = info.value
    assert err.status == 422
    assert err.title == "Input validation failed"
    assert isinstance(err.detail, str) and "prompt" in err.detail

    body = wire.last("POST", f"/v1/models/{VIDEO_MODEL}/predictions").json()
    assert body["status"] == 422
    fields = body.get("invalid_fields")
    assert isinstance(fields, list) and fields, f"no invalid_fields in {body}"
    for item in fields:
        assert {"type", "field", "description"} <= set(item)
    # a missing required property: type "required" on field "input" (notes B1)
    assert any(f["type"] == "required" and f["field"] == "input" for f in fields), fields
    assert sim.ledger() == []


def test_429_on_get_is_retried_honouring_retry_after(sim, client):
    """notes B2 "Retries" / D13: GET 429 is retried (x10) sleeping Retry-After seconds."""
    p = client.models.predictions.create(model=VIDEO_MODEL, input=_video_input())
    sim.add_faults(
        [{"op": "status", "kind": "429", "count": 2, "protocol": "replicate", "retry_after": 1}]
    )
    before = sim.stats()["requests"].get("status", 0)
    t0 = time.monotonic()
    got = client.predictions.get(p.id)
    elapsed = time.monotonic() - t0
    assert got.id == p.id
    assert sim.stats()["requests"]["status"] - before == 3  # 429, 429, 200
    assert elapsed >= 1.9, f"retried after {elapsed:.2f}s: Retry-After: 1 not honoured"


def test_429_on_list_is_retried(sim, client):
    client.models.predictions.create(model=VIDEO_MODEL, input=_video_input())
    sim.add_faults(
        [{"op": "list", "kind": "429", "count": 1, "protocol": "replicate", "retry_after": 1}]
    )
    page = client.predictions.list()
    assert len(page.results) == 1
    assert sim.stats()["requests"]["list"] == 2


def test_429_on_create_is_not_retried(sim, client):
    """notes B2 "Retries" / D13: POST is never retried; the 429 reaches the caller."""
    sim.add_faults([{"op": "create", "kind": "429", "count": 1, "protocol": "replicate"}])
    with pytest.raises(ReplicateError) as info:
        client.models.predictions.create(model=VIDEO_MODEL, input=_video_input())
    assert info.value.status == 429
    assert sim.stats()["requests"]["create"] == 1
    assert sim.ledger() == []
