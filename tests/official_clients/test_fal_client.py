"""The simulator's fal queue, driven by the official ``fal-client`` (1.0.3).

Whenever this file and the simulator disagree, the simulator is wrong: the expected
behaviour is the real fal queue's, as written down in /work/research/fal_replicate.md
(section A, cited below as "notes A1/A2/D<n>") and the sample payloads in
/work/research/payloads/fal/.

The client is pointed at the simulator the supported way (notes A2 option (a)):
``fal_client.client.QUEUE_URL_FORMAT`` is monkeypatched to the simulator's ``/fal/``
prefix. A submit handle then follows the status/response/cancel URLs that the server
returns. The by-id helpers (``status``/``result``/``cancel``) rebuild the URLs from
QUEUE_URL_FORMAT.

Raw wire facts that the client hides (HTTP status codes, exact bodies) are read from an
httpx response hook on the client's own ``httpx.Client``. The calls themselves are still
made by fal-client.
"""

from __future__ import annotations

import io
import json
import time
import uuid

import fal_client
import fal_client.client as fal_client_module
import httpx
import pytest
from fal_client import Completed, FalClientHTTPError, FalClientTimeoutError, InProgress, Queued
from PIL import Image

from webapp.simulator.server import SimulatorServer

KEY = "sim-key"
VIDEO_APP = "fal-ai/veo3"
SUBPATH_ENDPOINT = "fal-ai/kling-video/v2.1/master/text-to-video"  # owner/alias + path
IMAGE_APP = "fal-ai/flux/dev"

# notes A1 "Infrastructure request errors": the HTTP status that goes with each
# error_type, per fal's request-errors doc.
REQUEST_ERROR_STATUS = {
    "request_timeout": 504,
    "startup_timeout": 504,
    "runner_scheduling_failure": 503,
    "runner_connection_timeout": 503,
    "runner_connection_refused": 503,
    "runner_connection_error": 503,
    "runner_disconnected": 503,
    "runner_incomplete_response": 502,
    "runner_server_error": 500,
    "internal_error": 500,
    "client_disconnected": 499,
    "client_cancelled": 499,
    "bad_request": 400,
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sim():
    server = SimulatorServer({"API_KEY": KEY, "QUEUE_SECONDS": 0, "RUN_SECONDS": 1}).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_sim(sim, monkeypatch):
    sim.reset()
    # notes A2 (a): QUEUE_URL_FORMAT is read at call time, so patching it works.
    monkeypatch.setattr(fal_client_module, "QUEUE_URL_FORMAT", f"{sim.url}/fal/")
    yield
    sim.reset()


class Wire:
    """Every HTTP response that the fal client received, in order, with the body read."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.responses.append(response)

    def to(self, method: str, url_part: str) -> list[httpx.Response]:
        return [
            r
            for r in self.responses
            if r.request.method == method and url_part in str(r.request.url)
        ]

    def last(self, method: str, url_part: str) -> httpx.Response:
        found = self.to(method, url_part)
        assert found, (
            f"no {method} …{url_part}… on the wire: {[str(r.url) for r in self.responses]}"
        )
        return found[-1]


@pytest.fixture
def wire():
    return Wire()


def _make_client(wire: Wire, key: str = KEY) -> fal_client.SyncClient:
    client = fal_client.SyncClient(key=key)
    client._client.event_hooks["response"].append(wire)  # observe only
    return client


@pytest.fixture
def fal(wire):
    client = _make_client(wire)
    yield client
    client._client.close()


def _wait_completed(handle, *, timeout: float = 20.0, with_logs: bool = False) -> Completed:
    deadline = time.monotonic() + timeout
    for event in handle.iter_events(with_logs=with_logs, interval=0.05):
        if isinstance(event, Completed):
            return event
        assert time.monotonic() < deadline, "request never completed"
    raise AssertionError("iter_events ended without Completed")


def _prompt(text: str = "a red fox running through snow") -> dict:
    return {"prompt": text, "aspect_ratio": "16:9", "duration": "8s"}


# --------------------------------------------------------------------------- submit


def test_submit_subpath_endpoint_returns_owner_alias_urls(sim, fal, wire):
    handle = fal.submit(SUBPATH_ENDPOINT, _prompt())

    # notes A1 / D1: submit goes to the full ID, but status/result/cancel use owner/alias only.
    submit = wire.last("POST", SUBPATH_ENDPOINT)
    assert submit.request.url.path == f"/fal/{SUBPATH_ENDPOINT}"
    assert submit.request.headers["authorization"] == f"Key {KEY}"  # notes D5
    root = f"{sim.url}/fal/fal-ai/kling-video/requests/{handle.request_id}"
    assert handle.response_url == root
    assert handle.status_url == root + "/status"
    assert handle.cancel_url == root + "/cancel"

    # notes A1 submit row: 200 {status: IN_QUEUE, request_id, *_url, queue_position}
    assert submit.status_code == 200
    body = submit.json()
    assert body["status"] == "IN_QUEUE"
    assert body["request_id"] == handle.request_id
    assert isinstance(body["queue_position"], int)

    # The client's own URL builder (by-id helpers) must agree with the server's URLs.
    rebuilt = fal.get_handle(SUBPATH_ENDPOINT, handle.request_id)
    assert (rebuilt.response_url, rebuilt.status_url, rebuilt.cancel_url) == (
        handle.response_url,
        handle.status_url,
        handle.cancel_url,
    )


def test_submit_with_path_option_goes_to_the_full_endpoint(sim, fal, wire):
    handle = fal.submit("fal-ai/kling-video", _prompt(), path="v2.1/master/text-to-video")
    assert wire.last("POST", "/fal/").request.url.path == f"/fal/{SUBPATH_ENDPOINT}"
    assert handle.status_url.startswith(f"{sim.url}/fal/fal-ai/kling-video/requests/")
    assert isinstance(_wait_completed(handle), Completed)


# --------------------------------------------------------------------------- status


def test_status_walks_queued_in_progress_completed(sim, fal, wire):
    sim.set_config(QUEUE_SECONDS=30, RUN_SECONDS=30)
    handle = fal.submit(VIDEO_APP, _prompt())

    queued = handle.status()
    assert isinstance(queued, Queued)
    assert isinstance(queued.position, int) and queued.position >= 0
    assert wire.last("GET", "/status").status_code == 202  # notes A1 / D3

    sim.advance(31)
    running = handle.status()
    assert isinstance(running, InProgress)
    assert wire.last("GET", "/status").status_code == 202

    sim.advance(30)
    done = handle.status()
    assert isinstance(done, Completed)
    assert isinstance(done.metrics, dict)
    assert done.error is None and done.error_type is None
    assert wire.last("GET", "/status").status_code == 200  # notes A1 / D3

    # The same states through the by-id helper, which rebuilds the URL from the ID.
    assert isinstance(fal.status(VIDEO_APP, handle.request_id), Completed)


def test_status_without_logs_flag_carries_no_logs(sim, fal, wire):
    """notes A1 status bodies: logs are filled only with ?logs=1. fal-client sends
    ?logs=false when with_logs=False (notes A2 "Status parsing", D9). The payload
    status_in_progress_nologs_202.json has "logs": null."""
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=30)
    handle = fal.submit(VIDEO_APP, _prompt())

    status = handle.status(with_logs=False)
    assert isinstance(status, InProgress)
    assert wire.last("GET", "/status").request.url.params["logs"] == "false"
    assert not status.logs, f"logs were not asked for, yet got {status.logs!r}"


@pytest.mark.parametrize("flag", ["true", "1"])
def test_status_with_logs_returns_fal_log_entries(sim, fal, wire, flag):
    """notes A1: IN_PROGRESS logs are [{message, level, source, timestamp}]. fal-client
    sends logs=true, fal-js logs=1; the simulator must accept both (notes A2, D9)."""
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=30)
    handle = fal.submit(VIDEO_APP, _prompt())

    if flag == "true":
        logs = handle.status(with_logs=True).logs
        assert wire.last("GET", "/status").request.url.params["logs"] == "true"
    else:  # the JS client's spelling, sent with the same official httpx client
        resp = fal._client.get(handle.status_url, params={"logs": "1"})
        assert resp.status_code == 202
        logs = resp.json()["logs"]

    assert isinstance(logs, list) and logs
    for entry in logs:
        assert {"message", "level", "source", "timestamp"} <= set(entry), entry


def test_result_endpoint_is_400_before_completion(sim, fal):
    """notes A1 result row: 400 if the request is not completed yet."""
    sim.set_config(QUEUE_SECONDS=30, RUN_SECONDS=30)
    handle = fal.submit(VIDEO_APP, _prompt())
    resp = fal._client.get(handle.response_url)
    assert resp.status_code == 400


# --------------------------------------------------------------------------- results


def test_subscribe_video_result_and_public_download(sim, fal):
    ids: list[str] = []
    updates: list = []
    result = fal.subscribe(
        VIDEO_APP,
        _prompt(),
        with_logs=True,
        on_enqueue=ids.append,
        on_queue_update=updates.append,
        interval=0.05,
    )
    assert len(ids) == 1
    assert updates and isinstance(updates[-1], Completed)
    assert all(isinstance(u, (Queued, InProgress, Completed)) for u in updates)

    # notes A1 result bodies: {"video": {"url", content_type?, file_name?, file_size?}},
    # no envelope.
    assert set(result) == {"video"}
    video = result["video"]
    assert video["url"].startswith(("http://", "https://"))

    # notes A1: media URLs are public CDN URLs and need no auth.
    media = httpx.get(video["url"], timeout=30)
    assert media.status_code == 200
    assert media.headers["content-type"].startswith("video/mp4")
    assert media.content[4:8] == b"ftyp"
    if video.get("content_type") is not None:
        assert video["content_type"] == "video/mp4"
    if video.get("file_size") is not None:
        assert video["file_size"] == len(media.content)

    # The result endpoint replays the same result (kept 1 h; notes A1 result row),
    # fetched by id via the client's rebuilt owner/alias URL.
    again = fal.result(VIDEO_APP, ids[0])
    assert again["video"]["url"] == video["url"]


def test_result_by_id_for_subpath_endpoint(sim, fal):
    handle = fal.submit(SUBPATH_ENDPOINT, _prompt())
    _wait_completed(handle)
    # by-id helpers drop the subpath (notes A1 subpath rule, client.py:1537)
    assert isinstance(fal.status(SUBPATH_ENDPOINT, handle.request_id), Completed)
    result = fal.result(SUBPATH_ENDPOINT, handle.request_id)
    assert result["video"]["url"]


def test_image_model_result_matches_the_served_image(sim, fal):
    """notes A1 result bodies: images [{url, width, height, content_type}]."""
    result = fal.subscribe(IMAGE_APP, {"prompt": "a red fox in the snow"}, interval=0.05)
    assert isinstance(result["images"], list) and result["images"]
    for image in result["images"]:
        assert {"url", "width", "height", "content_type"} <= set(image)
        resp = httpx.get(image["url"], timeout=30)  # public CDN URL, no auth
        assert resp.status_code == 200
        assert resp.headers["content-type"].split(";")[0] == image["content_type"]
        served = Image.open(io.BytesIO(resp.content))
        assert served.size == (image["width"], image["height"]), (
            f"result says {image['width']}x{image['height']}, file is {served.size}"
        )


def test_image_model_result_has_the_flux_output_fields(sim, fal):
    """notes A1 result bodies: flux/dev returns {images, seed, timings,
    has_nsfw_concepts, prompt} (payload result_flux_images_200.json)."""
    prompt = "a red fox in the snow"
    result = fal.subscribe(IMAGE_APP, {"prompt": prompt}, interval=0.05)
    assert {"images", "seed", "timings", "has_nsfw_concepts", "prompt"} <= set(result)
    assert isinstance(result["seed"], int)
    assert result["prompt"] == prompt
    assert len(result["has_nsfw_concepts"]) == len(result["images"])


# --------------------------------------------------------------------------- failures


def test_failed_request_is_completed_with_error_on_status(sim, fal, wire):
    """notes A1 / D2: a failed request still reports COMPLETED; the failure shows in
    error/error_type (payload status_completed_failed_200.json)."""
    handle = fal.submit(VIDEO_APP, _prompt("[fail] something the filter rejects"))
    done = _wait_completed(handle)
    assert wire.last("GET", "/status").json()["status"] == "COMPLETED"
    assert isinstance(done.error, str) and done.error
    assert isinstance(done.error_type, str) and done.error_type


def test_failed_request_result_replays_the_model_error(sim, fal):
    """notes A2 "Result of a failed request" / D2 / D8: get() ignores Completed.error,
    then GETs response_url, which replays the model's 422 {"detail": [...]}."""
    handle = fal.submit(VIDEO_APP, _prompt("[fail] something the filter rejects"))
    with pytest.raises(FalClientHTTPError) as info:
        handle.get(interval=0.05)
    err = info.value
    assert err.status_code == 422
    assert isinstance(err.message, list) and err.message
    item = err.message[0]
    assert {"loc", "msg", "type"} <= set(item)
    assert item["type"] == "content_policy_violation"
    assert err.error_type == "content_policy_violation"  # body error_type or X-Fal-Error-Type

    # Replayed: fetching it again by id gives the same failure.
    with pytest.raises(FalClientHTTPError) as again:
        fal.result(VIDEO_APP, handle.request_id)
    assert again.value.status_code == 422


def test_failed_request_status_error_type_matches_result(sim, fal):
    handle = fal.submit(VIDEO_APP, _prompt("[fail] something the filter rejects"))
    done = _wait_completed(handle)
    with pytest.raises(FalClientHTTPError) as info:
        handle.get(interval=0.05)
    assert done.error_type == info.value.error_type


def test_runner_failure_uses_the_documented_status_for_its_error_type(sim, fal):
    """notes A1 "Infrastructure request errors": a flat {detail: str, error_type} with
    X-Fal-Error-Type, and a fixed HTTP status for each error_type (e.g.
    runner_disconnected -> 503, runner_server_error -> 500)."""
    sim.set_config(FAILURE_RATE=1.0)
    handle = fal.submit(VIDEO_APP, _prompt("an ordinary prompt"))
    with pytest.raises(FalClientHTTPError) as info:
        handle.get(interval=0.05)
    err = info.value
    assert isinstance(err.message, str)
    assert err.error_type in REQUEST_ERROR_STATUS, err.error_type
    assert err.response_headers.get("x-fal-error-type") == err.error_type
    assert err.status_code == REQUEST_ERROR_STATUS[err.error_type], (
        f"{err.error_type} came with HTTP {err.status_code}"
    )


def test_bad_input_is_a_422_with_a_detail_list(sim, fal):
    """notes A1 errors / D8: validation errors are 422 {"detail": [{loc, msg, type}]}.
    The official way to use the client is subscribe(); the 422 surfaces from it either
    way (at submit or at the result fetch)."""
    with pytest.raises(FalClientHTTPError) as info:
        fal.subscribe(VIDEO_APP, {"aspect_ratio": "16:9"}, interval=0.05)  # no prompt
    err = info.value
    assert err.status_code == 422
    assert isinstance(err.message, list) and err.message
    assert {"loc", "msg", "type"} <= set(err.message[0])
    assert "prompt" in err.message[0]["loc"]


# --------------------------------------------------------------------------- cancel


def test_cancel_queued_request(sim, fal, wire):
    """notes A1 cancel row / D4: PUT cancel_url -> 202 {"status": "CANCELLATION_REQUESTED"}."""
    sim.set_config(QUEUE_SECONDS=30, RUN_SECONDS=30)
    handle = fal.submit(VIDEO_APP, _prompt())
    assert handle.cancel() is None
    resp = wire.last("PUT", "/cancel")
    assert resp.status_code == 202
    assert resp.json() == {"status": "CANCELLATION_REQUESTED"}
    assert [j["stop_requested"] for j in sim.ledger()] == [True]
    # afterwards the status must still be one the client understands (notes A1: there
    # is no CANCELED status on the wire; the client raises on unknown statuses)
    assert isinstance(handle.status(), (Queued, InProgress, Completed))


def test_cancel_in_progress_request_by_id(sim, fal, wire):
    """notes A1 cancel row: an in-progress request gets a cancel signal (202)."""
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=30)
    handle = fal.submit(SUBPATH_ENDPOINT, _prompt())
    assert isinstance(handle.status(), InProgress)
    fal.cancel(SUBPATH_ENDPOINT, handle.request_id)  # rebuilt owner/alias URL
    resp = wire.last("PUT", "/cancel")
    assert resp.request.url.path == f"/fal/fal-ai/kling-video/requests/{handle.request_id}/cancel"
    assert resp.status_code == 202
    assert resp.json() == {"status": "CANCELLATION_REQUESTED"}
    assert sim.ledger()[0]["stop_requested"] is True


def test_cancel_completed_request_is_400_already_completed(sim, fal):
    """notes A1 cancel row / A2: 400 {"status":"ALREADY_COMPLETED"}; the client raises
    and, as there is no "detail", message is the raw body text."""
    handle = fal.submit(VIDEO_APP, _prompt())
    _wait_completed(handle)
    with pytest.raises(FalClientHTTPError) as info:
        handle.cancel()
    assert info.value.status_code == 400
    assert json.loads(info.value.message) == {"status": "ALREADY_COMPLETED"}


def test_subscribe_client_timeout_cancels_the_request(sim, fal):
    """notes A2 "Other behaviour": on client_timeout subscribe() cancels (best effort)
    and raises FalClientTimeoutError(timeout, request_id)."""
    sim.set_config(QUEUE_SECONDS=0, RUN_SECONDS=300)
    with pytest.raises(FalClientTimeoutError) as info:
        fal.subscribe(VIDEO_APP, _prompt(), client_timeout=1.5, interval=0.05)
    assert info.value.request_id
    ledger = sim.ledger()
    assert [j["id"] for j in ledger] == [info.value.request_id]
    assert ledger[0]["stop_requested"] is True


# --------------------------------------------------------------------------- errors


def test_bad_key_is_401(sim, wire):
    bad = _make_client(wire, key="not-the-key")
    with pytest.raises(FalClientHTTPError) as info:
        bad.submit(VIDEO_APP, _prompt())
    assert info.value.status_code == 401
    assert isinstance(info.value.message, str)  # notes A1 auth: {"detail": str}
    assert sim.ledger() == []

    with pytest.raises(FalClientHTTPError) as info:
        bad.status(VIDEO_APP, str(uuid.uuid4()))
    assert info.value.status_code == 401


def test_unknown_request_id_is_404(sim, fal):
    """notes A1 result row: 404 if the request is unknown."""
    rid = str(uuid.uuid4())
    with pytest.raises(FalClientHTTPError) as info:
        fal.status(VIDEO_APP, rid)
    assert info.value.status_code == 404

    resp = fal._client.get(fal.get_handle(VIDEO_APP, rid).response_url)
    assert resp.status_code == 404

    with pytest.raises(FalClientHTTPError) as info:
        fal.cancel(VIDEO_APP, rid)
    assert info.value.status_code == 404


def test_429_on_submit_is_retried_by_the_client(sim, fal, wire):
    """notes A2 "Client retries" / D7: 429 is retried (POST too), up to 10 attempts."""
    sim.add_faults([{"op": "create", "kind": "429", "count": 3, "protocol": "fal"}])
    handle = fal.submit(VIDEO_APP, _prompt())
    attempts = wire.to("POST", f"/fal/{VIDEO_APP}")
    assert [r.status_code for r in attempts] == [429, 429, 429, 200]
    assert sim.stats()["requests"]["create"] == 4
    assert [j["id"] for j in sim.ledger()] == [handle.request_id]  # one job, not four
    assert isinstance(_wait_completed(handle), Completed)


def test_429_on_status_and_result_is_retried_by_the_client(sim, fal, wire):
    handle = fal.submit(VIDEO_APP, _prompt())
    _wait_completed(handle)
    sim.add_faults(
        [
            {"op": "status", "kind": "429", "count": 2, "protocol": "fal"},
            {"op": "content", "kind": "429", "count": 2, "protocol": "fal"},
        ]
    )
    result = handle.get(interval=0.05)
    assert result["video"]["url"]
    assert [r.status_code for r in wire.to("GET", handle.status_url)][-3:] == [429, 429, 200]
    assert [r.status_code for r in wire.responses if str(r.request.url) == handle.response_url] == [
        429,
        429,
        200,
    ]


def test_json_503_is_not_retried(sim, fal, wire):
    """notes A2 "Client retries": a plain 503 carrying JSON (no "nginx") is never
    retried: one attempt."""
    handle = fal.submit(VIDEO_APP, _prompt())
    sim.add_faults([{"op": "status", "kind": "503", "count": 1, "protocol": "fal"}])
    with pytest.raises(FalClientHTTPError) as info:
        handle.status()
    assert info.value.status_code == 503
    assert len(wire.to("GET", "/status")) == 1
