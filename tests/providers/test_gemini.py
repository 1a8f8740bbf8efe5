"""Gemini API (providers.md §1): Veo long-running operations, RAI filtering, authenticated
download with manual redirects, synchronous image generation. Every recorded payload of
payloads/gemini/ is also fed to the adapter by test_payloads.py."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from responses import matchers

from webapp.providers import base as pb
from webapp.providers.base import Job
from webapp.providers.http import utcnow

from .conftest import GEMINI, KEY, MP4, PNG, load_payload, serve

MODEL = "veo-3.1-generate-preview"
OP = f"models/{MODEL}/operations/abc123xyz"
URI = "https://generativelanguage.googleapis.com/v1beta/files/3x9abc:download?alt=media"
# providers.md §1.3: the finished operation.
DONE = {
    "name": OP,
    "done": True,
    "response": {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
        "generateVideoResponse": {"generatedSamples": [{"video": {"uri": URI}}]},
    },
}
RAI = {
    "name": OP,
    "done": True,
    "response": {
        "generateVideoResponse": {
            "raiMediaFilteredCount": 1,
            "raiMediaFilteredReasons": [
                "Your video could not be generated because it violates our safety policies."
            ],
        }
    },
}


def test_predict_long_running_request(rsps, gemini):
    rsps.post(
        f"{GEMINI}/models/{MODEL}:predictLongRunning",
        json={"name": OP},
        match=[matchers.header_matcher({"x-goog-api-key": KEY})],
    )
    job = Job(
        model=MODEL,
        prompt="A lighthouse at dusk, waves crashing",
        seconds=8,
        aspect_ratio="16:9",
        size="1920x1080",
        reference_image=PNG,
        reference_mime="image/png",
    )
    submitted = gemini.submit(job)
    assert submitted.external_id == OP
    assert submitted.status.state == pb.QUEUED
    assert submitted.handles == {}
    sent = json.loads(rsps.calls[0].request.body)
    assert sent["instances"] == [
        {
            "prompt": "A lighthouse at dusk, waves crashing",
            "image": {
                "bytesBase64Encoded": base64.b64encode(PNG).decode(),
                "mimeType": "image/png",
            },
        }
    ]
    params = sent["parameters"]
    assert params["aspectRatio"] == "16:9"
    assert params["durationSeconds"] == 8
    assert params["resolution"] == "1080p"
    assert "Authorization" not in rsps.calls[0].request.headers
    assert "key=" not in rsps.calls[0].request.url


@pytest.mark.parametrize("op", [{"name": OP, "metadata": {}}, {"name": OP, "done": False}])
def test_operation_not_done_is_in_progress(rsps, gemini, op):
    rsps.get(f"{GEMINI}/{OP}", json=op)
    status = gemini.status(OP, {})
    assert status.state == pb.IN_PROGRESS
    assert status.progress is None
    assert rsps.calls[0].request.headers["x-goog-api-key"] == KEY


def test_done_with_error_is_failed_with_short_reason(rsps, gemini):
    error = {"code": 3, "message": "Invalid argument:   " + "bad " * 200, "status": "INVALID"}
    rsps.get(f"{GEMINI}/{OP}", json={"name": OP, "done": True, "error": error})
    status = gemini.status(OP, {})
    assert status.state == pb.FAILED
    assert status.error_code == "INVALID"  # the canonical status, not the number
    assert status.error_message.startswith("Invalid argument: bad")
    assert len(status.error_message) <= 200


def test_done_with_samples_is_completed_for_two_days(rsps, gemini):
    rsps.get(f"{GEMINI}/{OP}", json=DONE)
    status = gemini.status(OP, {})
    assert status.state == pb.COMPLETED
    assert status.progress == 100
    assert status.result_urls == {"video": URI}
    assert abs(status.expires_at - (utcnow() + timedelta(days=2))) < timedelta(minutes=1)


def test_rai_filtered_is_failed_in_plain_words(rsps, gemini):
    rsps.get(f"{GEMINI}/{OP}", json=RAI)
    status = gemini.status(OP, {})
    assert status.state == pb.FAILED
    assert status.error_code == "rai_media_filtered"
    assert "safety" in status.error_message
    assert "violates our safety policies" in status.error_message


def test_rai_count_without_reasons(rsps, gemini):
    body = {"name": OP, "done": True, "response": {"generateVideoResponse": {}}}
    body["response"]["generateVideoResponse"]["raiMediaFilteredCount"] = 1
    rsps.get(f"{GEMINI}/{OP}", json=body)
    status = gemini.status(OP, {})
    assert status.state == pb.FAILED and "safety" in status.error_message


def test_quota_429_resource_exhausted(rsps, gemini):
    body = {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}
    rsps.post(f"{GEMINI}/models/{MODEL}:predictLongRunning", status=429, json=body)
    with pytest.raises(pb.RateLimited):
        gemini.submit(Job(model=MODEL, prompt="p"))


def test_download_sends_the_key_to_google_only_and_follows_redirects(rsps, gemini, session):
    foreign = "https://storage.googleusercontent.com/veo/abc.mp4?sig=1"
    rsps.get(f"{GEMINI}/{OP}", json=DONE)
    rsps.get(URI, status=302, headers={"Location": foreign})
    rsps.get(foreign, body=MP4, content_type="video/mp4")
    download = gemini.download(OP, {})
    assert b"".join(download.chunks) == MP4
    first, second = rsps.calls[1].request, rsps.calls[2].request
    assert first.url == URI
    assert first.headers["x-goog-api-key"] == KEY
    assert second.url == foreign
    assert "x-goog-api-key" not in second.headers
    assert "Authorization" not in second.headers
    assert KEY not in json.dumps(dict(second.headers))
    assert all(c.get("stream") for c in session.calls[1:])
    assert all(c.get("allow_redirects") is False for c in session.calls[1:])


def test_veo_inline_video_bytes_download_without_a_request(rsps, gemini):
    """A finished operation may carry the video inline (video.encodedVideo, mime in
    video.encoding): it is completed, and the download is those bytes, fetched from nowhere.
    (payloads/gemini/veo_operation_done_encoded_200.json, from google-genai's
    _Video_from_mldev.)"""
    recorded = load_payload("gemini/veo_operation_done_encoded_200.json")
    name = recorded["body"]["name"]
    video = recorded["body"]["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]
    serve(rsps, "GET", f"{GEMINI}/{name}", recorded)
    download = gemini.download(name, {})
    assert b"".join(download.chunks) == base64.b64decode(video["encodedVideo"])
    assert download.content_type == video["encoding"]
    assert len(rsps.calls) == 1  # the operation only


def test_download_gone_is_content_expired(rsps, gemini):
    rsps.get(f"{GEMINI}/{OP}", json=DONE)
    rsps.get(URI, status=404, json={"error": {"code": 404, "message": "File not found"}})
    with pytest.raises(pb.ContentExpired):
        gemini.download(OP, {})


def test_image_generate_content_is_synchronous(rsps, gemini):
    rsps.post(
        f"{GEMINI}/models/gemini-3.1-flash-image:generateContent",
        json={
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {"text": "Here is your robot."},
                            {
                                "inlineData": {
                                    "mimeType": "image/png",
                                    "data": base64.b64encode(PNG).decode(),
                                }
                            },
                        ]
                    }
                }
            ],
            "responseId": "resp-1",
        },
    )
    job = Job(
        model="gemini-3.1-flash-image", prompt="a robot", media_type="IMAGE", aspect_ratio="16:9"
    )
    submitted = gemini.submit(job)
    assert isinstance(submitted, pb.Submitted)
    assert submitted.external_id == "resp-1"
    assert submitted.status.state == pb.COMPLETED
    assert submitted.inline_results == {"image": (PNG, "image/png")}
    assert rsps.calls[0].request.headers["x-goog-api-key"] == KEY
    sent = json.loads(rsps.calls[0].request.body)
    assert sent["contents"][0]["parts"][0] == {"text": "a robot"}
    assert sent["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert sent["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}


def test_image_without_response_id_gets_a_generated_id(rsps, gemini):
    part = {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(b"jpg").decode()}}
    rsps.post(
        f"{GEMINI}/models/m:generateContent",
        json={"candidates": [{"content": {"parts": [part]}}]},
    )
    submitted = gemini.submit(Job(model="m", prompt="p", media_type="IMAGE"))
    assert submitted.external_id
    assert submitted.inline_results["image"] == (b"jpg", "image/jpeg")


def test_image_blocked_prompt_is_permanent(rsps, gemini):
    rsps.post(
        f"{GEMINI}/models/m:generateContent",
        json={"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}},
    )
    with pytest.raises(pb.PermanentError) as info:
        gemini.submit(Job(model="m", prompt="p", media_type="IMAGE"))
    assert "prohibited content" in info.value.message
    assert not isinstance(info.value, pb.AmbiguousError)


def test_no_cancel_and_check(rsps, gemini):
    assert gemini.capabilities == {pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT}
    with pytest.raises(pb.PermanentError):
        gemini.cancel(OP, {})
    rsps.get(f"{GEMINI}/models", json={"models": []})
    assert gemini.check().ok
    rsps.replace("GET", f"{GEMINI}/models", status=403, json={"error": {"message": "denied"}})
    assert gemini.check().authenticated is False
