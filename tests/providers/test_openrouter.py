"""OpenRouter's video API: the create body, every status word, usage.cost as the task's cost,
the authenticated content route, the models list, and what the protocol cannot do. Every
recorded payload of payloads/openrouter/ is also fed to the adapter by test_payloads.py."""

from __future__ import annotations

import base64
import json

import pytest
from responses import matchers

from webapp.providers import base as pb
from webapp.providers.base import Job
from webapp.providers.openrouter import parse_job

from .conftest import KEY, MP4, OPENROUTER, OPENROUTER_HOST, PNG, load_payload, serve, ts

JOB_ID = "gen-vid-1767312000-a1B2c3D4e5F6g7H8i9J0"
CREATED = load_payload("openrouter/create_202.json")
COMPLETED = load_payload("openrouter/get_completed.json")["body"]


def test_submit_posts_the_job_and_keeps_the_id(rsps, openrouter):
    serve(rsps, "POST", f"{OPENROUTER}/videos", CREATED)
    job = Job(model="google/veo-3.1", prompt="A golden retriever", seconds=8, size="1920x1080")
    submitted = openrouter.submit(job)
    assert submitted.external_id == JOB_ID
    assert submitted.status.state == pb.QUEUED
    assert submitted.handles == {}
    request = rsps.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"] == "application/json"
    # size wins over aspect_ratio; no generate_audio unless the admin set it
    assert json.loads(request.body) == {
        "model": "google/veo-3.1",
        "prompt": "A golden retriever",
        "duration": 8,
        "size": "1920x1080",
    }


def test_submit_aspect_ratio_first_frame_and_audio_setting(rsps, make):
    adapter = make("openrouter", OPENROUTER_HOST, "/api/v1", extra={"generate_audio": False})
    serve(rsps, "POST", f"{OPENROUTER}/videos", CREATED)
    job = Job(
        model="google/veo-3.1",
        prompt="p",
        aspect_ratio="9:16",
        reference_image=PNG,
        reference_mime="image/png",
    )
    adapter.submit(job)
    sent = json.loads(rsps.calls[0].request.body)
    assert sent["aspect_ratio"] == "9:16" and "size" not in sent and "duration" not in sent
    assert sent["generate_audio"] is False
    assert sent["frame_images"] == [
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
            "frame_type": "first_frame",
        }
    ]


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("pending", pb.QUEUED),
        ("in_progress", pb.IN_PROGRESS),
        ("completed", pb.COMPLETED),
        ("failed", pb.FAILED),
        ("cancelled", pb.CANCELLED),
        ("expired", pb.FAILED),
        ("something_new", pb.QUEUED),  # unknown words keep the job polling
        ("", pb.QUEUED),
    ],
)
def test_status_words(rsps, openrouter, word, state):
    rsps.get(f"{OPENROUTER}/videos/{JOB_ID}", json={"id": JOB_ID, "status": word})
    status = openrouter.status(JOB_ID, {})
    assert status.state == state
    assert status.raw_status == (word or None)
    assert status.progress == (100 if state == pb.COMPLETED else None)
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("usage", "cost"),
    [
        ({"cost": 3.2, "is_byok": False}, 3.2),
        ({"cost": 2}, 2.0),
        ({"cost": 0}, 0.0),
        ({"cost": True}, None),  # a bool is no price
        ({"cost": "3.20"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_cost_is_usage_cost_in_usd(usage, cost):
    status = parse_job({**COMPLETED, "usage": usage})
    assert status.cost == cost
    assert status.expires_at == ts(COMPLETED["expires_at"])


def test_failure_text_is_short_and_keyless():
    status = parse_job({"status": "failed", "error": f"key {KEY} refused: " + "no " * 200}, KEY)
    assert status.state == pb.FAILED
    assert KEY not in status.error_message and "[key]" in status.error_message
    assert len(status.error_message) <= 200
    default = parse_job({"status": "failed", "error": {"nested": "object"}}, KEY)
    assert default.error_message == "OpenRouter could not generate this video."


def test_expired_job_says_so():
    status = parse_job({"status": "expired"})
    assert (status.state, status.error_code) == (pb.FAILED, "expired")
    assert "expired" in status.error_message


def test_download_streams_the_first_output(rsps, openrouter, session):
    rsps.get(
        f"{OPENROUTER}/videos/{JOB_ID}/content",
        body=MP4,
        content_type="video/mp4",
        match=[
            matchers.query_param_matcher({"index": "0"}),
            matchers.header_matcher({"Accept": "video/mp4", "Authorization": f"Bearer {KEY}"}),
        ],
    )
    download = openrouter.download(JOB_ID, {})
    assert b"".join(download.chunks) == MP4
    assert download.content_type == "video/mp4"
    assert session.calls[-1]["stream"] is True


@pytest.mark.parametrize("code", [404, 410])
def test_download_gone_is_content_expired(rsps, openrouter, code):
    serve(
        rsps,
        "GET",
        f"{OPENROUTER}/videos/{JOB_ID}/content",
        {**load_payload("openrouter/error_404.json"), "status": code},
    )
    with pytest.raises(pb.ContentExpired):
        openrouter.download(JOB_ID, {})


def test_download_other_variants_do_not_exist(rsps, openrouter):
    with pytest.raises(pb.NotFound):
        openrouter.download(JOB_ID, {}, "thumbnail")
    assert len(rsps.calls) == 0


def test_ids_are_one_path_segment(rsps, openrouter):
    rsps.get(f"{OPENROUTER}/videos/..%2Fkeys%3Fx%3D", json={"id": "x", "status": "pending"})
    openrouter.status("../keys?x=", {})
    assert rsps.calls[0].request.url == f"{OPENROUTER}/videos/..%2Fkeys%3Fx%3D"


def test_models_skip_what_they_cannot_read(rsps, openrouter):
    veo = load_payload("openrouter/models_200.json")["body"]["data"][0]
    rsps.get(
        f"{OPENROUTER}/videos/models",
        json={
            "data": [
                "not an object",
                {"name": "no id"},
                {**veo, "supported_durations": [4, "6", None, 8], "name": None},
            ]
        },
    )
    [model] = openrouter.models()
    assert model.id == "google/veo-3.1"
    assert model.name == "google/veo-3.1"  # no name: the id
    assert model.durations == (4, 8)


def test_what_the_protocol_cannot_do(openrouter):
    assert openrouter.capabilities == {pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT}
    job = Job(model="google/veo-3.1", prompt="p")
    for call in (
        lambda: openrouter.remix(JOB_ID, {}, job),
        lambda: openrouter.cancel(JOB_ID, {}),
        lambda: openrouter.delete(JOB_ID, {}),
    ):
        with pytest.raises(pb.PermanentError):
            call()
    assert openrouter.list_jobs(None) == []


def test_check_needs_the_key_on_a_job_read(rsps, openrouter):
    serve(rsps, "GET", f"{OPENROUTER}/videos/models", load_payload("openrouter/models_200.json"))
    rsps.get(f"{OPENROUTER}/videos/gen-vid-0-reelaycheck", status=404, json={"error": {}})
    result = openrouter.check()
    assert (result.ok, result.reachable, result.authenticated) == (True, True, True)
    assert rsps.calls[1].request.headers["Authorization"] == f"Bearer {KEY}"

    refused = load_payload("openrouter/error_401.json")
    rsps.replace(
        "GET", f"{OPENROUTER}/videos/gen-vid-0-reelaycheck", status=401, json=refused["body"]
    )
    result = openrouter.check()
    assert (result.ok, result.reachable, result.authenticated) == (False, True, False)
    assert KEY not in result.message


def test_check_unreachable(make):
    adapter = make("openrouter", "http://127.0.0.1:9", "/api/v1", networks="loopback")
    result = adapter.check()
    assert (result.ok, result.reachable) == (False, False)
