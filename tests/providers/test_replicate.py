"""Replicate predictions (providers.md §3): model route vs versioned route, Cancel-After,
status words incl. ``aborted``, output string or list, one-hour expiry. Every recorded payload
of payloads/replicate/ is also fed to the adapter by test_payloads.py."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest
from responses import matchers

from tests.reconcile_support import listed_matching
from webapp.providers import base as pb
from webapp.providers.base import Job

from .conftest import KEY, MP4, PNG, REPLICATE

PID = "gm3qorzdhgbfurvjtvhg6dckhu"
# providers.md §3: the prediction object.
PREDICTION = {
    "id": PID,
    "model": "google/veo-3.1",
    "version": "hidden",
    "input": {"prompt": "a lighthouse at dusk"},
    "logs": "",
    "output": None,
    "error": None,
    "status": "starting",
    "created_at": "2026-10-01T16:19:34.765994Z",
    "data_removed": False,
    "urls": {
        "get": f"{REPLICATE}/predictions/{PID}",
        "cancel": f"{REPLICATE}/predictions/{PID}/cancel",
        "stream": "https://stream.replicate.com/v1/files/abc",
        "web": f"https://replicate.com/p/{PID}",
    },
}
HANDLES = {"get": PREDICTION["urls"]["get"], "cancel": PREDICTION["urls"]["cancel"]}
OUT = "https://replicate.delivery/xezq/abc/output.mp4"
JOB = Job(model="google/veo-3.1", prompt="a lighthouse at dusk", seconds=8, aspect_ratio="16:9")


def test_submit_official_model_route(rsps, replicate):
    rsps.post(
        f"{REPLICATE}/models/google/veo-3.1/predictions",
        json=PREDICTION,
        status=201,
        match=[
            matchers.json_params_matcher(
                {"input": {"prompt": JOB.prompt, "aspect_ratio": "16:9", "duration": 8}}
            ),
            matchers.header_matcher({"Authorization": f"Bearer {KEY}"}),
        ],
    )
    submitted = replicate.submit(JOB)
    assert submitted.external_id == PID
    assert submitted.handles == HANDLES
    assert submitted.status.state == pb.QUEUED
    assert "Cancel-After" not in rsps.calls[0].request.headers


def test_submit_versioned_model_and_cancel_after(rsps, make):
    adapter = make("replicate", "https://api.replicate.com", "/v1", extra={"cancel_after": "10m"})
    version = "google/veo-3.1:" + "9c" * 32
    rsps.post(
        f"{REPLICATE}/predictions",
        json=PREDICTION,
        match=[matchers.header_matcher({"Cancel-After": "10m"})],
    )
    job = Job(model=version, prompt="p", reference_image=PNG, reference_mime="image/png")
    assert adapter.submit(job).external_id == PID
    sent = json.loads(rsps.calls[0].request.body)
    assert sent["version"] == version
    assert sent["input"]["prompt"] == "p"
    assert sent["input"]["image"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("starting", pb.QUEUED),
        ("processing", pb.IN_PROGRESS),
        ("succeeded", pb.COMPLETED),
        ("failed", pb.FAILED),
        ("canceled", pb.CANCELLED),
        ("aborted", pb.CANCELLED),
    ],
)
def test_status_words(rsps, replicate, word, state):
    body = dict(PREDICTION, status=word)
    if word == "succeeded":
        body["output"] = OUT
    if word == "failed":
        body["error"] = "CUDA out of memory"
    rsps.get(HANDLES["get"], json=body)
    status = replicate.status(PID, HANDLES)
    assert status.state == state
    assert status.raw_status == word
    assert status.progress in (None, 100)
    if word == "failed":
        assert status.error_message == "CUDA out of memory"


@pytest.mark.parametrize("output", [OUT, [OUT], [OUT, "https://replicate.delivery/x/2.mp4"]])
def test_output_string_or_list_and_one_hour_expiry(rsps, replicate, output):
    body = dict(
        PREDICTION,
        status="succeeded",
        output=output,
        completed_at="2026-10-01T16:21:00.123456Z",
        metrics={"predict_time": 80.1},
    )
    rsps.get(HANDLES["get"], json=body)
    status = replicate.status(PID, HANDLES)
    assert status.state == pb.COMPLETED
    assert status.progress == 100
    assert status.result_urls == {"video": OUT}
    assert status.expires_at == datetime(2026, 10, 1, 17, 21, 0, 123456)


def test_failed_reason_is_short(rsps, replicate):
    rsps.get(HANDLES["get"], json=dict(PREDICTION, status="failed", error="E " * 500))
    status = replicate.status(PID, HANDLES)
    assert status.state == pb.FAILED
    assert len(status.error_message) <= 200


def test_status_without_handles_builds_the_url(rsps, replicate):
    rsps.get(f"{REPLICATE}/predictions/{PID}", json=PREDICTION)
    assert replicate.status(PID, {}).state == pb.QUEUED


def test_download_streams_the_output_with_the_token(rsps, replicate, session):
    rsps.get(HANDLES["get"], json=dict(PREDICTION, status="succeeded", output=OUT))
    rsps.get(OUT, body=MP4, content_type="video/mp4")
    download = replicate.download(PID, HANDLES)
    assert b"".join(download.chunks) == MP4
    assert session.calls[-1]["stream"] is True
    assert rsps.calls[-1].request.headers["Authorization"] == f"Bearer {KEY}"


def test_download_to_foreign_host_has_no_token(rsps, replicate):
    foreign = "https://cdn.elsewhere.example/out.mp4"
    rsps.get(HANDLES["get"], json=dict(PREDICTION, status="succeeded", output=foreign))
    rsps.get(foreign, body=b"mp4")
    b"".join(replicate.download(PID, HANDLES).chunks)
    assert "Authorization" not in rsps.calls[-1].request.headers


def test_data_removed_is_content_expired(rsps, replicate):
    rsps.get(
        HANDLES["get"],
        json=dict(PREDICTION, status="succeeded", output=None, data_removed=True),
    )
    with pytest.raises(pb.ContentExpired):
        replicate.download(PID, HANDLES)
    assert len(rsps.calls) == 1  # no file request for an output that is gone


def test_output_file_gone_is_content_expired(rsps, replicate):
    rsps.get(HANDLES["get"], json=dict(PREDICTION, status="succeeded", output=OUT))
    rsps.get(OUT, status=404)
    with pytest.raises(pb.ContentExpired):
        replicate.download(PID, HANDLES)


def test_rate_limit_detail_body(rsps, replicate):
    rsps.post(
        f"{REPLICATE}/models/google/veo-3.1/predictions",
        status=429,
        headers={"Retry-After": "30"},
        json={"detail": "Request was throttled. Your rate limit resets in ~30s."},
    )
    with pytest.raises(pb.RateLimited) as info:
        replicate.submit(JOB)
    assert info.value.retry_after == 30


def test_cancel_posts_urls_cancel(rsps, replicate):
    rsps.post(HANDLES["cancel"], json=dict(PREDICTION, status="canceled"))
    replicate.cancel(PID, HANDLES)
    assert rsps.calls[0].request.url == HANDLES["cancel"]
    rsps.post(f"{REPLICATE}/predictions/other/cancel", json=PREDICTION)
    replicate.cancel("other", {})
    assert [c.request.method for c in rsps.calls] == ["POST", "POST"]


def test_list_jobs_from_the_list(rsps, replicate):
    older = dict(PREDICTION, id="older", created_at="2026-10-01T15:00:00Z")
    other = dict(PREDICTION, id="other", input={"prompt": "something else"})
    mine = dict(PREDICTION, status="processing")
    listing = {"next": None, "previous": None, "results": [other, mine, older]}
    rsps.get(f"{REPLICATE}/predictions", json=listing)
    [found] = listed_matching(replicate, JOB, datetime(2026, 10, 1, 16, 0, 0))
    assert found.external_id == PID
    assert found.status.state == pb.IN_PROGRESS
    assert found.handles == HANDLES


def test_check(rsps, replicate):
    rsps.get(f"{REPLICATE}/predictions", json={"results": []})
    assert replicate.check().ok
    rsps.replace("GET", f"{REPLICATE}/predictions", status=401, json={"detail": "bad token"})
    result = replicate.check()
    assert (result.ok, result.reachable, result.authenticated) == (False, True, False)


def test_capabilities(replicate):
    assert replicate.capabilities == {pb.CAP_CANCEL, pb.CAP_LIST, pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT}
