"""fal queue API (providers.md §2): stored URLs used verbatim, failure only visible on the
result fetch, the key never sent to the CDN. Every recorded payload of payloads/fal/ is also
fed to the adapter by test_payloads.py."""

from __future__ import annotations

import base64
import json

import pytest
from responses import matchers

from webapp.providers import base as pb
from webapp.providers.base import Job

from .conftest import FAL, KEY, MP4, PNG

RID = "024ca5b1-45d3-4afd-883e-ad3abe2a1c4d"
REQ = f"{FAL}/fal-ai/kling-video/requests/{RID}"
# providers.md §2: the InQueueQueueStatus create answer (URLs without the endpoint sub-path).
CREATE = {
    "status": "IN_QUEUE",
    "request_id": RID,
    "response_url": REQ,
    "status_url": f"{REQ}/status",
    "cancel_url": f"{REQ}/cancel",
    "queue_position": 3,
}
HANDLES = {k: CREATE[k] for k in ("request_id", "status_url", "response_url", "cancel_url")}
MODEL = "fal-ai/kling-video/v2.5-turbo/standard/image-to-video"
CDN = "https://v3b.fal.media/files/rabbit/abc.mp4"


def test_submit_posts_model_input_and_stores_handles_verbatim(rsps, fal):
    rsps.post(
        f"{FAL}/{MODEL}",
        json=CREATE,
        match=[matchers.header_matcher({"Authorization": f"Key {KEY}"})],
    )
    job = Job(
        model=MODEL,
        prompt="a cat surfing",
        seconds=5,
        aspect_ratio="16:9",
        reference_image=PNG,
        reference_mime="image/png",
    )
    submitted = fal.submit(job)
    assert submitted.external_id == RID
    assert submitted.handles == HANDLES
    assert submitted.status.state == pb.QUEUED
    assert submitted.status.queue_position == 3
    body = rsps.calls[0].request.body

    sent = json.loads(body)
    assert sent["prompt"] == "a cat surfing"
    assert sent["duration"] == "5"
    assert sent["aspect_ratio"] == "16:9"
    assert sent["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_duration_format_and_input_defaults(rsps, make):
    adapter = make(
        "fal",
        FAL,
        "",
        extra={"duration_format": "{}s", "input_defaults": {"resolution": "720p"}},
    )
    rsps.post(
        f"{FAL}/fal-ai/veo3.1/lite",
        json=CREATE,
        match=[
            matchers.json_params_matcher({"prompt": "p", "duration": "8s", "resolution": "720p"})
        ],
    )
    adapter.submit(Job(model="fal-ai/veo3.1/lite", prompt="p", seconds=8))


def test_submit_without_request_id_is_ambiguous(rsps, fal):
    rsps.post(f"{FAL}/{MODEL}", json={"status": "IN_QUEUE"})
    with pytest.raises(pb.AmbiguousError):
        fal.submit(Job(model=MODEL, prompt="p"))


@pytest.mark.parametrize(
    ("payload", "state", "position"),
    [
        ({"status": "IN_QUEUE", "request_id": RID, "queue_position": 0}, pb.QUEUED, 0),
        (
            {"status": "IN_PROGRESS", "request_id": RID, "logs": [], "queue_position": None},
            pb.IN_PROGRESS,
            None,
        ),
    ],
)
def test_status_uses_the_stored_status_url(rsps, fal, payload, state, position):
    rsps.get(f"{REQ}/status", status=202, json={**CREATE, **payload})  # 202 until complete
    status = fal.status(RID, HANDLES)
    assert status.state == state
    assert status.queue_position == position
    assert status.progress is None
    assert status.raw_status == payload["status"]
    assert rsps.calls[0].request.url == HANDLES["status_url"]
    assert rsps.calls[0].request.headers["Authorization"] == f"Key {KEY}"


def test_completed_fetches_the_result(rsps, fal):
    rsps.get(
        f"{REQ}/status",
        json={"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 83.2}},
    )
    rsps.get(
        REQ,
        json={"video": {"url": CDN, "content_type": "video/mp4", "file_size": 1234567}},
    )
    status = fal.status(RID, HANDLES)
    assert status.state == pb.COMPLETED
    assert status.result_urls == {"video": CDN}
    assert status.progress == 100
    assert rsps.calls[1].request.url == HANDLES["response_url"]
    assert rsps.calls[1].request.headers["Authorization"] == f"Key {KEY}"


def test_completed_image_model_result(rsps, fal):
    rsps.get(f"{REQ}/status", json={"status": "COMPLETED"})
    rsps.get(REQ, json={"images": [{"url": "https://v3.fal.media/files/x.png"}]})
    assert fal.status(RID, HANDLES).result_urls == {"video": "https://v3.fal.media/files/x.png"}


@pytest.mark.parametrize("error_type", [None, "image_too_small"])
def test_failure_is_only_visible_on_the_result_fetch(rsps, fal, error_type):
    rsps.get(f"{REQ}/status", json={"status": "COMPLETED", "logs": []})
    detail = [{"loc": ["body", "image_url"], "msg": "Image too small. " * 30, "type": "value"}]
    headers = {"X-Fal-Error-Type": error_type} if error_type else {}
    rsps.get(REQ, status=422, json={"detail": detail}, headers=headers)
    status = fal.status(RID, HANDLES)
    assert status.state == pb.FAILED
    assert status.raw_status == "COMPLETED"
    assert status.error_code == (error_type or "generation_failed")
    assert status.error_message.startswith("Image too small.")
    assert len(status.error_message) <= 160
    assert "loc" not in status.error_message and "{" not in status.error_message


def test_result_5xx_with_fal_error_type_is_failed(rsps, fal):
    rsps.get(f"{REQ}/status", json={"status": "COMPLETED"})
    rsps.get(
        REQ,
        status=504,
        json={"detail": "Request timed out"},
        headers={"X-Fal-Error-Type": "request_timeout"},
    )
    status = fal.status(RID, HANDLES)
    assert status.state == pb.FAILED
    assert status.error_code == "request_timeout"


def test_result_bare_503_is_transient(rsps, fal):
    rsps.get(f"{REQ}/status", json={"status": "COMPLETED"})
    rsps.get(REQ, status=503, body="Service Unavailable")
    with pytest.raises(pb.TransientError):
        fal.status(RID, HANDLES)


def test_string_error_on_status_is_failed(rsps, fal):
    rsps.get(
        f"{REQ}/status",
        json={"status": "COMPLETED", "error": "runner disconnected", "error_type": "runner"},
    )
    status = fal.status(RID, HANDLES)
    assert status.state == pb.FAILED
    assert status.error_code == "runner"
    assert status.error_message == "runner disconnected"


def test_missing_status_url_is_permanent(fal):
    with pytest.raises(pb.PermanentError):
        fal.status(RID, {})


def test_download_streams_from_the_cdn_without_the_key(rsps, fal, session):
    rsps.get(REQ, json={"video": {"url": CDN}})
    rsps.get(CDN, body=MP4, content_type="video/mp4")
    download = fal.download(RID, HANDLES)
    assert b"".join(download.chunks) == MP4
    assert download.content_type == "video/mp4"
    cdn_call = rsps.calls[-1].request
    assert cdn_call.url == CDN
    assert "Authorization" not in cdn_call.headers
    assert KEY not in json.dumps(dict(cdn_call.headers))
    assert rsps.calls[0].request.headers["Authorization"] == f"Key {KEY}"
    assert session.calls[-1]["stream"] is True


def test_download_expired_cdn_file(rsps, fal):
    rsps.get(REQ, json={"video": {"url": CDN}})
    rsps.get(CDN, status=404)
    with pytest.raises(pb.ContentExpired):
        fal.download(RID, HANDLES)


def test_cancel_puts_the_stored_cancel_url(rsps, fal):
    rsps.put(f"{REQ}/cancel", status=202, json={"status": "CANCELLATION_REQUESTED"})
    fal.cancel(RID, HANDLES)
    assert rsps.calls[0].request.method == "PUT"
    assert rsps.calls[0].request.url == HANDLES["cancel_url"]
    assert rsps.calls[0].request.headers["Authorization"] == f"Key {KEY}"


def test_cancel_already_completed_is_quiet(rsps, fal):
    rsps.put(f"{REQ}/cancel", status=400, json={"status": "ALREADY_COMPLETED"})
    fal.cancel(RID, HANDLES)


def test_capabilities(fal):
    assert fal.capabilities == {pb.CAP_CANCEL, pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT}
    with pytest.raises(pb.PermanentError):
        fal.remix(RID, HANDLES, Job(model=MODEL, prompt="p"))
    assert fal.list_jobs(None) == []


def test_cancelled_request_result_is_cancelled(rsps, fal):
    rsps.get(f"{REQ}/status", json={"status": "COMPLETED"})
    rsps.get(REQ, status=400, json={"detail": "Request was cancelled", "error_type": "cancelled"})
    assert fal.status(RID, HANDLES).state == pb.CANCELLED
