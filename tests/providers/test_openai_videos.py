"""OpenAI-Videos-shaped gateways (new-api, LiteLLM, Sora relays): the adapter's requests and
its behaviour around the payloads of upstream.md §1 and providers.md §5. Every recorded
payload of payloads/openai/ is also fed to the adapter by test_payloads.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from responses import matchers

from tests.reconcile_support import listed_matching
from webapp.providers import base as pb
from webapp.providers.base import Job
from webapp.providers.http import CHUNK, utcnow

from .conftest import GW, KEY, MP4, PNG, ts

VIDEOS = f"{GW}/v1/videos"
JOB = Job(model="sora-2", prompt="a red fox in snow", seconds=8, size="1280x720")

# upstream.md §1.3: the official video object (and the spec's undocumented "quality").
OPENAI_VIDEO = {
    "id": "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5",
    "object": "video",
    "model": "sora-2",
    "status": "in_progress",
    "progress": 33,
    "created_at": 1758941485,
    "completed_at": None,
    "expires_at": None,
    "prompt": "a red fox in snow",
    "remixed_from_video_id": None,
    "seconds": "8",
    "size": "1280x720",
    "quality": "standard",
    "error": None,
}
# providers.md §5.2: new-api create (Kling adaptor).
NEWAPI_CREATE = {
    "id": "task_abc",
    "task_id": "task_abc",
    "object": "video",
    "model": "kling-v2-6",
    "status": "queued",
    "progress": 0,
    "created_at": 1764347090,
}
# providers.md §5.2: new-api GET, ms timestamps and the URL in metadata.url.
NEWAPI_DONE = {
    "id": "task_abc",
    "task_id": "task_abc",
    "object": "video",
    "model": "kling-v2-6",
    "status": "completed",
    "progress": 100,
    "created_at": 1764347090922,
    "completed_at": 1764347215000,
    "seconds": "5.1",
    "metadata": {"url": "https://v16-kling-fdl.klingai.com/abc.mp4?sig=1"},
    "error": {"message": "", "code": ""},
}
# upstream.md §1.4: the real expiry answer.
EXPIRED_404 = {
    "error": {
        "message": "The video is no longer available. Downloads expire after 1 hours.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}


# ---- submit ------------------------------------------------------------------------------


def test_submit_json_with_string_seconds_and_idempotency_key(rsps, openai):
    rsps.post(
        VIDEOS,
        json=dict(OPENAI_VIDEO, status="queued", progress=0),
        headers={"openai-poll-after-ms": "2500"},
        match=[
            matchers.json_params_matcher(
                {"prompt": JOB.prompt, "model": "sora-2", "seconds": "8", "size": "1280x720"}
            ),
            matchers.header_matcher(
                {"Idempotency-Key": "vid-42", "Authorization": f"Bearer {KEY}"}
            ),
        ],
    )
    job = Job(**{**JOB.__dict__, "client_ref": "vid-42", "options": {"watermark": False}})
    submitted = openai.submit(job)
    assert submitted.external_id == OPENAI_VIDEO["id"]
    assert submitted.status.state == pb.QUEUED
    assert submitted.status.poll_after == 2.5
    assert submitted.handles == {}
    assert rsps.calls[0].request.headers["Content-Type"] == "application/json"
    assert isinstance(json.loads(rsps.calls[0].request.body)["seconds"], str)


def test_options_pass_through_only_when_configured(rsps, make):
    adapter = make("openai", GW, extra={"pass_options": True})
    rsps.post(
        VIDEOS,
        json=NEWAPI_CREATE,
        match=[
            matchers.json_params_matcher(
                {"prompt": "p", "model": "m", "watermark": False, "private": True}
            )
        ],
    )
    adapter.submit(Job(model="m", prompt="p", options={"watermark": False, "private": True}))


def test_no_idempotency_key_without_client_ref(rsps, openai):
    rsps.post(VIDEOS, json=NEWAPI_CREATE)
    openai.submit(JOB)
    assert "Idempotency-Key" not in rsps.calls[0].request.headers
    # Without seconds or size, neither is sent (the upstream's defaults apply).
    openai.submit(Job(model="sora-2", prompt="p"))
    assert "Idempotency-Key" not in rsps.calls[1].request.headers
    assert json.loads(rsps.calls[1].request.body) == {"prompt": "p", "model": "sora-2"}


def test_reference_image_is_multipart_input_reference(rsps, openai):
    rsps.post(VIDEOS, json=NEWAPI_CREATE)
    job = {**JOB.__dict__, "reference_image": PNG, "reference_mime": "image/png"}
    openai.submit(Job(**{**job, "client_ref": "vid_multi"}))
    req = rsps.calls[0].request
    assert req.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert req.headers["Idempotency-Key"] == "vid_multi"
    body = req.body
    assert b'name="input_reference"; filename="reference.png"' in body
    assert b"Content-Type: image/png" in body
    assert PNG in body
    assert b'name="seconds"\r\n\r\n8\r\n' in body
    assert b'name="prompt"\r\n\r\na red fox in snow\r\n' in body
    assert b'name="model"\r\n\r\nsora-2\r\n' in body
    assert b'name="size"\r\n\r\n1280x720\r\n' in body


def test_raw_auth_style_and_sora_prefix(rsps, make):
    adapter = make("openai", GW + "/", "/sora/v1", auth_style="raw")  # trailing slash too
    rsps.post(
        f"{GW}/sora/v1/videos",
        json=NEWAPI_CREATE,
        match=[matchers.header_matcher({"Authorization": KEY})],
    )
    assert adapter.submit(JOB).external_id == "task_abc"
    assert rsps.calls[0].request.url == f"{GW}/sora/v1/videos"


def test_create_with_only_task_id(rsps, openai):
    rsps.post(
        VIDEOS,
        json={"task_id": "task_only", "status": "submitted"},
        headers={"openai-poll-after-ms": "2500"},
    )
    submitted = openai.submit(JOB)
    assert submitted.external_id == "task_only"
    assert submitted.status.state == pb.QUEUED
    assert submitted.status.poll_after == 2.5


@pytest.mark.parametrize(
    "answer", [{"object": "video", "status": "queued"}, {"id": ""}, {"id": 42}]
)
def test_create_200_without_any_id_is_ambiguous(rsps, openai, answer):
    rsps.post(VIDEOS, json=answer)
    with pytest.raises(pb.AmbiguousError):
        openai.submit(JOB)


def test_litellm_veo_create_says_processing(rsps, openai):
    rsps.post(VIDEOS, json={"id": "video_bGl0ZWxsbTpnZW1pbmk", "status": "processing"})
    assert openai.submit(JOB).status.state == pb.IN_PROGRESS


# ---- status ------------------------------------------------------------------------------


def test_official_video_object(rsps, openai):
    video = dict(OPENAI_VIDEO, expires_at=1758945085, unknown_future_field={"nested": [1, 2]})
    rsps.get(f"{VIDEOS}/v1", json=video)
    status = openai.status("v1", {})
    assert status.state == pb.IN_PROGRESS
    assert status.progress == 33
    assert status.raw_status == "in_progress"
    assert status.expires_at == ts(1758945085)
    assert status.error_code is None
    assert status.error_message is None and status.result_urls == {}
    assert status.poll_after is None
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"


def test_newapi_completed_metadata_url_ms_timestamps_empty_error(rsps, openai):
    rsps.get(f"{VIDEOS}/task_abc", json=NEWAPI_DONE)
    status = openai.status("task_abc", {})
    assert status.state == pb.COMPLETED
    assert status.progress == 100
    assert status.result_urls == {"video": NEWAPI_DONE["metadata"]["url"]}
    # the empty error object of a completed task is not surfaced
    assert status.error_code is None and status.error_message is None


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("queued", pb.QUEUED),
        ("pending", pb.QUEUED),
        ("submitted", pb.QUEUED),
        ("not_start", pb.QUEUED),
        ("NOT_START", pb.QUEUED),
        ("unknown", pb.QUEUED),
        ("something-new", pb.QUEUED),
        ("in_progress", pb.IN_PROGRESS),
        ("processing", pb.IN_PROGRESS),
        ("running", pb.IN_PROGRESS),
        ("generating", pb.IN_PROGRESS),
        ("completed", pb.COMPLETED),
        ("succeeded", pb.COMPLETED),
        ("success", pb.COMPLETED),
        ("SUCCESS", pb.COMPLETED),
        ("done", pb.COMPLETED),
        ("failed", pb.FAILED),
        ("failure", pb.FAILED),
        ("error", pb.FAILED),
        ("cancelled", pb.CANCELLED),
        ("canceled", pb.CANCELLED),
        # new-api's TaskDto words, seen on its OpenAI route too
        ("SUBMITTED", pb.QUEUED),
        ("IN_PROGRESS", pb.IN_PROGRESS),
        ("FAILURE", pb.FAILED),
        ("warming_up", pb.QUEUED),
        ("", pb.QUEUED),
    ],
)
def test_status_synonyms(rsps, openai, word, state):
    rsps.get(f"{VIDEOS}/v1", json={"id": "v1", "status": word})
    status = openai.status("v1", {})
    assert status.state == state
    assert status.raw_status == (word or None)


def test_missing_status_is_queued(rsps, openai):
    rsps.get(f"{VIDEOS}/task_1", json={"id": "task_1", "object": "video"})
    status = openai.status("task_1", {})
    assert status.state == pb.QUEUED
    assert status.raw_status is None


@pytest.mark.parametrize(
    ("progress", "expected"),
    [(50, 50), (42.6, 43), ("50%", 50), ("30%", 30), ("70", 70), (0.5, 50), (None, None)],
)
def test_progress_shapes(rsps, openai, progress, expected):
    body = {"id": "v1", "status": "in_progress"}
    if progress is not None:
        body["progress"] = progress
    rsps.get(f"{VIDEOS}/v1", json=body)
    assert openai.status("v1", {}).progress == expected


def test_missing_progress_key_is_none(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", json={"id": "v1", "status": "processing"})
    assert openai.status("v1", {}).progress is None


@pytest.mark.parametrize("upstream_progress", [0, 40, "90%", None])
def test_completed_always_reports_progress_100(rsps, openai, upstream_progress):
    body = dict(OPENAI_VIDEO, status="completed", progress=upstream_progress)
    rsps.get(f"{VIDEOS}/v1", json=body)
    assert openai.status("v1", {}).progress == 100


@pytest.mark.parametrize("stamp", [1764350690, 1764350690000])
def test_expires_at_seconds_or_milliseconds(rsps, openai, stamp):
    rsps.get(f"{VIDEOS}/v1", json={"id": "v1", "status": "completed", "expires_at": stamp})
    assert openai.status("v1", {}).expires_at == datetime(2025, 11, 28, 17, 24, 50)


@pytest.mark.parametrize("field", ["output_url", "video_url", "url"])
def test_result_url_aliases(rsps, openai, field):
    rsps.get(
        f"{VIDEOS}/v1",
        json={"id": "v1", "status": "succeeded", field: "https://cdn.example/v.mp4"},
    )
    assert openai.status("v1", {}).result_urls == {"video": "https://cdn.example/v.mp4"}


def test_failed_with_error_object(rsps, openai):
    body = {
        "id": "v1",
        "status": "failed",
        "error": {"code": "moderation_blocked", "message": "Your request was blocked."},
    }
    rsps.get(f"{VIDEOS}/v1", json=body)
    status = openai.status("v1", {})
    assert status.state == pb.FAILED
    assert status.error_code == "moderation_blocked"
    assert status.error_message == "Your request was blocked."


def test_failed_with_error_string(rsps, openai):
    body = {"id": "v1", "status": "failed", "error": "upstream   returned\nerror"}
    rsps.get(f"{VIDEOS}/v1", json=body)
    status = openai.status("v1", {})
    assert status.state == pb.FAILED
    assert status.error_code is None
    assert status.error_message == "upstream returned error"  # one line, spaces collapsed


def test_failed_without_error_uses_fail_reason_or_a_default(rsps, openai):
    rsps.get(f"{VIDEOS}/a", json={"task_id": "a", "status": "FAILURE", "fail_reason": "quota"})
    rsps.get(f"{VIDEOS}/b", json=dict(OPENAI_VIDEO, status="failed"))
    assert openai.status("a", {}).error_message == "quota"
    assert openai.status("b", {}).error_message


def test_long_failure_reason_is_short(rsps, openai):
    reason = "The task failed. " * 200
    rsps.get(f"{VIDEOS}/v1", json={"id": "v1", "status": "failure", "fail_reason": reason})
    status = openai.status("v1", {})
    assert status.state == pb.FAILED
    assert len(status.error_message) <= 200


def test_error_without_status_is_failed(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", json={"id": "v1", "error": {"message": "boom"}})
    assert openai.status("v1", {}).state == pb.FAILED


def test_unknown_fields_are_ignored(rsps, openai):
    body = dict(OPENAI_VIDEO, usage={"total_tokens": 3}, brand_new={"x": [1]})
    rsps.get(f"{VIDEOS}/v1", json=body)
    assert openai.status("v1", {}).state == pb.IN_PROGRESS


def test_poll_after_header(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", json=OPENAI_VIDEO, headers={"openai-poll-after-ms": "7000"})
    assert openai.status("v1", {}).poll_after == 7.0


def test_501_falls_back_to_newapi_task_route(rsps, openai):
    rsps.get(
        f"{VIDEOS}/task_abc",
        status=501,
        json={"error": {"message": "not implemented", "code": "not_implemented"}},
    )
    rsps.get(
        f"{GW}/v1/video/generations/task_abc",
        json={
            "code": "success",
            "data": {
                "task_id": "task_abc",
                "status": "IN_PROGRESS",
                "progress": "50%",
                "result_url": "",
                "fail_reason": "",
            },
        },
    )
    status = openai.status("task_abc", {})
    assert status.state == pb.IN_PROGRESS
    assert status.progress == 50
    assert status.raw_status == "IN_PROGRESS"


def test_newapi_task_route_failure(rsps, openai):
    rsps.get(f"{VIDEOS}/t", status=501, json={"error": {"message": "not_implemented"}})
    rsps.get(
        f"{GW}/v1/video/generations/t",
        json={"code": "success", "data": {"status": "FAILURE", "fail_reason": "content policy"}},
    )
    status = openai.status("t", {})
    assert status.state == pb.FAILED
    assert status.error_message == "content policy"


# ---- download ----------------------------------------------------------------------------


def test_download_streams_in_64k_chunks(rsps, openai, session):
    rsps.get(
        f"{VIDEOS}/v1/content",
        body=MP4,
        content_type="video/mp4",
        headers={"Content-Length": str(len(MP4))},
        match=[
            matchers.header_matcher(
                {"Authorization": f"Bearer {KEY}", "Accept": "application/binary"}
            )
        ],
    )
    download = openai.download("v1", {})
    assert session.calls[-1]["stream"] is True
    assert download.content_type == "video/mp4"
    assert download.length == len(MP4)
    first = next(download.chunks)  # lazily: one chunk at a time
    assert len(first) == CHUNK
    rest = list(download.chunks)
    assert rest and all(len(c) <= CHUNK for c in rest)
    assert first + b"".join(rest) == MP4
    download.release()
    assert "variant" not in rsps.calls[0].request.url


def test_download_variant_thumbnail(rsps, openai):
    rsps.get(
        f"{VIDEOS}/v1/content",
        body=b"RIFFwebp",
        content_type="image/webp; charset=binary",
        match=[matchers.query_param_matcher({"variant": "thumbnail"})],
    )
    download = openai.download("v1", {}, "thumbnail")
    assert b"".join(download.chunks) == b"RIFFwebp"
    assert download.content_type == "image/webp"


@pytest.mark.parametrize("code", [404, 410])
def test_download_after_expiry_is_content_expired(rsps, openai, code):
    rsps.get(f"{VIDEOS}/v1/content", status=code, json=EXPIRED_404)
    with pytest.raises(pb.ContentExpired) as info:
        openai.download("v1", {})
    assert "no longer available" in info.value.message
    assert info.value.code == "content_expired"


def test_download_with_known_past_expiry_skips_the_request(rsps, openai):
    past = (utcnow() - timedelta(minutes=5)).isoformat()
    with pytest.raises(pb.ContentExpired):
        openai.download("v1", {"expires_at": past})
    assert len(rsps.calls) == 0


def test_download_not_ready_is_permanent_not_expired(rsps, openai):
    body = {"error": {"message": "Task is not completed yet, current status: IN_PROGRESS"}}
    rsps.get(f"{VIDEOS}/v1/content", status=400, json=body)
    with pytest.raises(pb.PermanentError) as info:
        openai.download("v1", {})
    assert not isinstance(info.value, pb.ContentExpired)


# ---- remix, delete, cancel ---------------------------------------------------------------


def test_remix_posts_prompt(rsps, openai):
    rsps.post(
        f"{VIDEOS}/v1/remix",
        json=dict(OPENAI_VIDEO, id="video_2", status="queued", remixed_from_video_id="v1"),
        match=[matchers.json_params_matcher({"prompt": "now at night"})],
    )
    submitted = openai.remix("v1", {}, Job(model="sora-2", prompt="now at night"))
    assert submitted.external_id == "video_2"


def test_delete_and_cancel_use_delete(rsps, openai):
    rsps.delete(f"{VIDEOS}/v1", json={"id": "v1", "object": "video.deleted", "deleted": True})
    openai.delete("v1", {})
    openai.cancel("v1", {})
    assert [c.request.method for c in rsps.calls] == ["DELETE", "DELETE"]


def test_cancel_capability_only_when_configured(openai, make):
    assert pb.CAP_CANCEL not in openai.capabilities
    assert pb.CAP_DELETE in openai.capabilities
    assert pb.CAP_CANCEL in make("openai", GW, extra={"cancel": True}).capabilities


# ---- list_jobs, check ---------------------------------------------------------------


def _listing(*items):
    return {"object": "list", "data": list(items), "has_more": False}


def test_list_jobs_matches_prompt_model_since(rsps, openai):
    since = datetime(2025, 9, 27, 2, 0, 0)
    old = dict(OPENAI_VIDEO, id="old", created_at=int(since.timestamp()) - 600, status="queued")
    other = dict(OPENAI_VIDEO, id="other", prompt="something else", created_at=1758941485)
    other_model = dict(OPENAI_VIDEO, id="other_model", model="sora-2-pro", created_at=1758941485)
    # new-api's task_id alias and millisecond timestamps
    mine = dict(OPENAI_VIDEO, id=None, task_id="mine", created_at=1758941485000)
    rsps.get(
        VIDEOS,
        json=_listing(other, other_model, mine, old),
        match=[matchers.query_param_matcher({"order": "desc", "limit": "100"})],
    )
    [found] = listed_matching(openai, JOB, since)
    assert found.external_id == "mine"
    assert found.status.state == pb.IN_PROGRESS


def test_list_jobs_only_inside_the_window(rsps, openai):
    """A job created after the lost request's window is someone else's, and one with no
    creation time cannot be placed in it at all."""
    since = datetime(2025, 9, 27, 2, 50, 0)  # naive UTC; "mine" was created at 02:51:25
    late = dict(OPENAI_VIDEO, id="late", created_at=1758941485 + 3600)
    undated = dict(OPENAI_VIDEO, id="undated", created_at=None)
    mine = dict(OPENAI_VIDEO, id="mine", created_at=1758941485)
    rsps.get(VIDEOS, json=_listing(late, undated, mine))
    found = listed_matching(openai, JOB, since, since + timedelta(minutes=4))
    assert [f.external_id for f in found] == ["mine"]


def test_list_jobs_none(rsps, openai):
    rsps.get(VIDEOS, json=_listing())
    assert openai.list_jobs(datetime(2025, 1, 1)) == []


def test_check_ok_creates_nothing(rsps, openai):
    rsps.get(VIDEOS, json=_listing(), match=[matchers.query_param_matcher({"limit": "1"})])
    result = openai.check()
    assert (result.ok, result.reachable, result.authenticated) == (True, True, True)
    assert all(c.request.method == "GET" for c in rsps.calls)
    assert KEY not in result.message


def test_check_auth_refused(rsps, openai):
    rsps.get(VIDEOS, status=401, json={"error": {"message": f"bad {KEY}"}})
    result = openai.check()
    assert (result.ok, result.reachable, result.authenticated) == (False, True, False)
    assert KEY not in result.message


def test_check_without_list_falls_back_to_models(rsps, openai):
    rsps.get(VIDEOS, status=404)
    rsps.get(f"{GW}/v1/models", json={"object": "list", "data": []})
    result = openai.check()
    assert (result.ok, result.authenticated) == (True, True)


def test_check_405_and_no_models_is_reachable_auth_unknown(rsps, openai):
    rsps.get(VIDEOS, status=405)
    rsps.get(f"{GW}/v1/models", status=404)
    result = openai.check()
    assert (result.ok, result.reachable, result.authenticated) == (True, True, None)


def test_check_404_and_models_failing_is_reachable_auth_unknown(rsps, openai):
    rsps.get(VIDEOS, status=404, json={"error": {"message": "Invalid URL (GET /v1/videos)"}})
    rsps.get(f"{GW}/v1/models", status=500)
    result = openai.check()
    assert (result.ok, result.reachable, result.authenticated) == (True, True, None)


def test_check_unreachable(make):
    adapter = make("openai", "http://127.0.0.1:9")  # discard port: nothing listens
    result = adapter.check()
    assert (result.ok, result.reachable) == (False, False)


def test_json_dumps_of_status_is_possible(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", json=NEWAPI_DONE)
    status = openai.status("v1", {})
    assert json.dumps(status.result_urls)


def test_failure_text_never_carries_the_key(rsps, make):
    """Some gateways echo the token in their error text; it must not reach a task page."""
    gw = make("openai", GW, api_key="gw-9f8e7d6c5b4a")
    rsps.get(
        f"{GW}/v1/videos/vid_1",
        json={
            "id": "vid_1",
            "status": "failed",
            "error": {"message": "Invalid token gw-9f8e7d6c5b4a"},
        },
    )
    status = gw.status("vid_1", {})
    assert status.state == pb.FAILED and "gw-9f8e7d6c5b4a" not in status.error_message
    assert "[key]" in status.error_message


def test_ids_are_one_path_segment(rsps, openai):
    """However an id was obtained, it cannot walk the upstream's path with our key."""
    rsps.get(f"{GW}/v1/videos/..%2Fadmin%3Fx%3D", json=dict(OPENAI_VIDEO, id="x"))
    openai.status("../admin?x=", {})
    assert rsps.calls[0].request.url == f"{GW}/v1/videos/..%2Fadmin%3Fx%3D"
