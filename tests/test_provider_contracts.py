"""Contract tests for the upstream adapters in ``webapp/providers``.

Every upstream is mocked with ``responses`` using example payloads copied from
/work/shared/reference/providers.md (§1 Gemini, §2 fal, §3 Replicate, §5 new-api and
LiteLLM) and /work/shared/reference/upstream.md §1 (OpenAI Videos). No app and no database
are needed.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
from responses import matchers

from tests.reconcile_support import listed_matching
from webapp.providers import base as pb
from webapp.providers.base import Job, ProviderConfig
from webapp.providers.http import make_session
from webapp.providers.registry import KINDS, build

KEY = "sk-test-SECRET-123"

GW = "https://gw.example.com"  # an OpenAI-Videos-shaped gateway (new-api, LiteLLM, relay)
VIDEOS = f"{GW}/v1/videos"
FAL = "https://queue.fal.run"
REPLICATE = "https://api.replicate.com/v1"
GEMINI = "https://generativelanguage.googleapis.com/v1beta"

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 600  # ~150 KiB: several 64 KiB chunks


def make(kind: str, base_url: str, path_prefix: str = "/v1", auth_style: str = "bearer", **extra):
    config = ProviderConfig(
        kind=kind,
        base_url=base_url,
        path_prefix=path_prefix,
        auth_style=auth_style,
        api_key=KEY,
        connect_timeout=1,
        read_timeout=1,
        extra=extra,
    )
    return build(config, make_session())


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def openai():
    return make("openai", GW)


def body_of(call) -> dict:
    return json.loads(call.request.body)


def naive_utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


# ---------------------------------------------------------------------------------------
# Recorded payloads
# ---------------------------------------------------------------------------------------

# upstream.md §1.3: the official video object, including the undocumented "quality".
OPENAI_VIDEO = {
    "id": "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5",
    "object": "video",
    "created_at": 1758941485,
    "status": "queued",
    "model": "sora-2",
    "progress": 0,
    "seconds": "8",
    "size": "1280x720",
    "quality": "standard",
    "prompt": "A calico cat playing a piano on stage",
    "remixed_from_video_id": None,
    "completed_at": None,
    "expires_at": None,
    "error": None,
}

# providers.md §5.2: new-api create response (Kling adaptor) and GET /v1/videos/{task_id}.
NEWAPI_CREATED = {
    "id": "task_8mZk2Qx0",
    "task_id": "task_8mZk2Qx0",
    "object": "video",
    "model": "kling-v2-6",
    "status": "queued",
    "progress": 0,
    "created_at": 1764347090,
}
NEWAPI_COMPLETED = {
    "id": "task_8mZk2Qx0",
    "task_id": "task_8mZk2Qx0",
    "object": "video",
    "model": "kling-v2-6",
    "status": "completed",
    "progress": 100,
    "created_at": 1764347090922,
    "completed_at": 1764347215000,
    "seconds": "5.1",
    "metadata": {
        "url": "https://v16-kling-fdl.klingai.com/bs2/upload/abc.mp4?x-expires=1764433615"
    },
    "error": {"message": "", "code": ""},
    "usage": {"completion_tokens": 0, "total_tokens": 0},
}

# providers.md §5.3: LiteLLM in front of Veo answers "processing", never the OpenAI enum.
LITELLM_VEO_PROCESSING = {
    "id": "video_bGl0ZWxsbTpjdXN0b21fbGxtX3Byb3ZpZGVyOmdlbWluaQ",
    "object": "video",
    "model": "veo-3.1-generate-preview",
    "status": "processing",
    "created_at": 1764347090,
    "usage": {"duration_seconds": 8},
}

# upstream.md §1.4: the real error after expiry.
OPENAI_EXPIRED_404 = {
    "error": {
        "message": "The video is no longer available. Downloads expire after 1 hours.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}

# providers.md §2: the queue's create answer. The URLs drop the endpoint sub-path.
FAL_MODEL = "fal-ai/kling-video/v2.5-turbo/standard/image-to-video"
FAL_REQUEST_ID = "024ca5b1-45d3-4afd-883e-ad3abe2a1c4d"
FAL_STATUS_URL = f"{FAL}/fal-ai/kling-video/requests/{FAL_REQUEST_ID}/status"
FAL_RESPONSE_URL = f"{FAL}/fal-ai/kling-video/requests/{FAL_REQUEST_ID}"
FAL_CANCEL_URL = f"{FAL}/fal-ai/kling-video/requests/{FAL_REQUEST_ID}/cancel"
FAL_CREATED = {
    "status": "IN_QUEUE",
    "request_id": FAL_REQUEST_ID,
    "response_url": FAL_RESPONSE_URL,
    "status_url": FAL_STATUS_URL,
    "cancel_url": FAL_CANCEL_URL,
    "queue_position": 0,
}
FAL_HANDLES = {
    "status_url": FAL_STATUS_URL,
    "response_url": FAL_RESPONSE_URL,
    "cancel_url": FAL_CANCEL_URL,
}
FAL_CDN_URL = "https://v3b.fal.media/files/b/koala/Xk2f9_output.mp4"
FAL_RESULT = {
    "video": {
        "url": FAL_CDN_URL,
        "content_type": "video/mp4",
        "file_name": "output.mp4",
        "file_size": 1234567,
    }
}
FAL_422 = {
    "detail": [
        {
            "loc": ["body", "image_url"],
            "msg": "Image dimensions are too small. Minimum is 300x300.",
            "type": "value_error",
        }
    ]
}

# providers.md §3: the prediction object.
REPLICATE_ID = "gm3qorzdhgbfurvjtvhg6dckhu"
REPLICATE_GET = f"{REPLICATE}/predictions/{REPLICATE_ID}"
REPLICATE_CANCEL = f"{REPLICATE}/predictions/{REPLICATE_ID}/cancel"
REPLICATE_OUTPUT = "https://replicate.delivery/xezq/abc123/tmpq9x2k.mp4"
REPLICATE_PREDICTION = {
    "id": REPLICATE_ID,
    "model": "google/veo-3.1",
    "version": "hidden",
    "input": {"prompt": "A lighthouse at dusk, waves crashing"},
    "logs": "",
    "output": None,
    "error": None,
    "status": "starting",
    "created_at": "2026-10-01T16:19:34.765994Z",
    "data_removed": False,
    "urls": {
        "get": REPLICATE_GET,
        "cancel": REPLICATE_CANCEL,
        "stream": "https://stream.replicate.com/v1/files/bcwr-abc",
        "web": f"https://replicate.com/p/{REPLICATE_ID}",
    },
}

# providers.md §1.2/§1.3: Veo long-running operations.
VEO_MODEL = "veo-3.1-generate-preview"
VEO_OP = f"models/{VEO_MODEL}/operations/abc123xyz"
VEO_VIDEO_URI = f"{GEMINI}/files/3x9abc:download?alt=media"
VEO_DONE = {
    "name": VEO_OP,
    "done": True,
    "response": {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
        "generateVideoResponse": {"generatedSamples": [{"video": {"uri": VEO_VIDEO_URI}}]},
    },
}


def reply(status: str = "queued", **fields) -> dict:
    return {**OPENAI_VIDEO, "status": status, **fields}


# ---------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------


def test_registry_builds_every_kind_and_rejects_unknown_kinds():
    for kind in KINDS:
        adapter = make(kind, "https://example.com")
        assert adapter.capabilities == KINDS[kind].capabilities
    with pytest.raises(pb.PermanentError):
        make("midjourney", "https://example.com")


# ---------------------------------------------------------------------------------------
# 1. OpenAI Videos (and the gateways that serve its shape)
# ---------------------------------------------------------------------------------------


def test_openai_submit_sends_json_with_string_seconds_and_idempotency_key(rsps, openai):
    rsps.post(VIDEOS, json=OPENAI_VIDEO)
    job = Job(
        model="sora-2",
        prompt="A calico cat playing a piano on stage",
        size="1280x720",
        seconds=8,
        client_ref="vid_01HZREF",
    )
    submitted = openai.submit(job)

    assert submitted.external_id == OPENAI_VIDEO["id"]
    assert submitted.status.state == pb.QUEUED
    request = rsps.calls[0].request
    assert body_of(rsps.calls[0]) == {
        "prompt": "A calico cat playing a piano on stage",
        "model": "sora-2",
        "seconds": "8",
        "size": "1280x720",
    }
    assert isinstance(body_of(rsps.calls[0])["seconds"], str)
    assert request.headers["Idempotency-Key"] == "vid_01HZREF"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"] == "application/json"


def test_openai_submit_without_client_ref_sends_no_idempotency_key(rsps, openai):
    rsps.post(VIDEOS, json=OPENAI_VIDEO)
    openai.submit(Job(model="sora-2", prompt="p"))
    assert "Idempotency-Key" not in rsps.calls[0].request.headers
    assert body_of(rsps.calls[0]) == {"prompt": "p", "model": "sora-2"}


def test_openai_raw_auth_style_and_custom_path_prefix(rsps):
    adapter = make("openai", GW + "/", path_prefix="/sora/v1", auth_style="raw")
    rsps.post(f"{GW}/sora/v1/videos", json=NEWAPI_CREATED)
    submitted = adapter.submit(Job(model="kling-v2-6", prompt="p"))
    assert submitted.external_id == "task_8mZk2Qx0"
    assert rsps.calls[0].request.headers["Authorization"] == KEY
    assert rsps.calls[0].request.url == f"{GW}/sora/v1/videos"


def test_openai_submit_with_reference_image_is_multipart(rsps, openai):
    rsps.post(VIDEOS, json=OPENAI_VIDEO)
    job = Job(
        model="sora-2",
        prompt="Animate this",
        size="1280x720",
        seconds=4,
        reference_image=PNG,
        reference_mime="image/png",
        client_ref="vid_multi",
    )
    openai.submit(job)

    request = rsps.calls[0].request
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.headers["Idempotency-Key"] == "vid_multi"
    body = request.body
    assert b'name="input_reference"; filename="reference.png"' in body
    assert b"Content-Type: image/png" in body
    assert PNG in body
    assert b'name="prompt"\r\n\r\nAnimate this\r\n' in body
    assert b'name="model"\r\n\r\nsora-2\r\n' in body
    assert b'name="seconds"\r\n\r\n4\r\n' in body
    assert b'name="size"\r\n\r\n1280x720\r\n' in body


def test_openai_create_accepts_task_id_alias_and_poll_hint(rsps, openai):
    created = {k: v for k, v in NEWAPI_CREATED.items() if k != "id"}
    rsps.post(VIDEOS, json=created, headers={"openai-poll-after-ms": "2500"})
    submitted = openai.submit(Job(model="kling-v2-6", prompt="p"))
    assert submitted.external_id == "task_8mZk2Qx0"
    assert submitted.status.poll_after == 2.5


def test_openai_status_parses_the_official_video_object(rsps, openai):
    video = reply(
        "in_progress",
        progress=33,
        expires_at=1758945085,
        unknown_future_field={"nested": [1, 2]},
    )
    rsps.get(f"{VIDEOS}/{OPENAI_VIDEO['id']}", json=video)
    status = openai.status(OPENAI_VIDEO["id"], {})
    assert status.state == pb.IN_PROGRESS
    assert status.progress == 33
    assert status.raw_status == "in_progress"
    assert status.expires_at == naive_utc(1758945085)
    assert status.error_code is None and status.error_message is None
    assert status.result_urls == {}
    assert status.poll_after is None
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("queued", pb.QUEUED),
        ("in_progress", pb.IN_PROGRESS),
        ("completed", pb.COMPLETED),
        ("failed", pb.FAILED),
        # new-api and LiteLLM words
        ("processing", pb.IN_PROGRESS),
        ("unknown", pb.QUEUED),
        ("SUCCESS", pb.COMPLETED),
        ("succeeded", pb.COMPLETED),
        ("FAILURE", pb.FAILED),
        ("NOT_START", pb.QUEUED),
        ("SUBMITTED", pb.QUEUED),
        ("IN_PROGRESS", pb.IN_PROGRESS),
        ("cancelled", pb.CANCELLED),
        # anything unrecognised keeps the job polling
        ("warming_up", pb.QUEUED),
        ("", pb.QUEUED),
    ],
)
def test_openai_status_words_are_normalised(rsps, openai, word, state):
    rsps.get(f"{VIDEOS}/task_1", json=reply(word, progress=None))
    assert openai.status("task_1", {}).state == state


def test_openai_status_missing_status_is_queued(rsps, openai):
    rsps.get(f"{VIDEOS}/task_1", json={"id": "task_1", "object": "video"})
    status = openai.status("task_1", {})
    assert status.state == pb.QUEUED
    assert status.raw_status is None


def test_newapi_percent_progress_string(rsps, openai):
    rsps.get(
        f"{VIDEOS}/task_8mZk2Qx0",
        json={**NEWAPI_CREATED, "status": "processing", "progress": "50%"},
    )
    status = openai.status("task_8mZk2Qx0", {})
    assert status.state == pb.IN_PROGRESS
    assert status.progress == 50


def test_newapi_completed_with_metadata_url_ms_times_and_empty_error(rsps, openai):
    rsps.get(f"{VIDEOS}/task_8mZk2Qx0", json=NEWAPI_COMPLETED)
    status = openai.status("task_8mZk2Qx0", {})
    assert status.state == pb.COMPLETED
    assert status.progress == 100
    assert status.result_urls == {"video": NEWAPI_COMPLETED["metadata"]["url"]}
    # the empty error object of a completed task is not surfaced
    assert status.error_code is None and status.error_message is None


def test_status_expires_at_in_milliseconds(rsps, openai):
    rsps.get(f"{VIDEOS}/task_1", json={**NEWAPI_COMPLETED, "expires_at": 1764350815000})
    assert openai.status("task_1", {}).expires_at == naive_utc(1764350815)


def test_litellm_veo_processing_is_in_progress(rsps, openai):
    rsps.get(f"{VIDEOS}/{LITELLM_VEO_PROCESSING['id']}", json=LITELLM_VEO_PROCESSING)
    status = openai.status(LITELLM_VEO_PROCESSING["id"], {})
    assert status.state == pb.IN_PROGRESS
    assert status.progress is None
    assert status.raw_status == "processing"


@pytest.mark.parametrize("upstream_progress", [0, 40, "90%", None])
def test_completed_always_reports_progress_100(rsps, openai, upstream_progress):
    rsps.get(f"{VIDEOS}/v1", json=reply("completed", progress=upstream_progress))
    assert openai.status("v1", {}).progress == 100


def test_failed_with_error_object(rsps, openai):
    video = reply(
        "failed",
        error={
            "code": "moderation_blocked",
            "message": "Your request was blocked by our moderation system.",
        },
    )
    rsps.get(f"{VIDEOS}/v1", json=video)
    status = openai.status("v1", {})
    assert status.state == pb.FAILED
    assert status.error_code == "moderation_blocked"
    assert status.error_message == "Your request was blocked by our moderation system."


def test_failed_with_error_string(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", json=reply("failed", error="upstream   returned\nerror"))
    status = openai.status("v1", {})
    assert status.state == pb.FAILED
    assert status.error_code is None
    assert status.error_message == "upstream returned error"


def test_failed_without_error_uses_fail_reason_or_a_default(rsps, openai):
    rsps.get(f"{VIDEOS}/a", json={"task_id": "a", "status": "FAILURE", "fail_reason": "quota"})
    rsps.get(f"{VIDEOS}/b", json=reply("failed"))
    assert openai.status("a", {}).error_message == "quota"
    assert openai.status("b", {}).error_message


def test_poll_after_header_is_seconds(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", json=reply("in_progress"), headers={"openai-poll-after-ms": "7000"})
    assert openai.status("v1", {}).poll_after == 7.0


def test_openai_download_streams_the_content(rsps, openai):
    rsps.get(
        f"{VIDEOS}/v1/content",
        body=MP4,
        content_type="video/mp4",
        headers={"Content-Length": str(len(MP4))},
    )
    download = openai.download("v1", {})
    chunks = list(download.chunks)
    download.release()

    assert len(chunks) > 1
    assert b"".join(chunks) == MP4
    assert download.content_type == "video/mp4"
    assert download.length == len(MP4)
    request = rsps.calls[0].request
    assert request.headers["Accept"] == "application/binary"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert "variant" not in request.url


def test_openai_download_thumbnail_variant(rsps, openai):
    rsps.get(
        f"{VIDEOS}/v1/content",
        body=b"RIFFwebp",
        match=[matchers.query_param_matcher({"variant": "thumbnail"})],
        headers={"Content-Type": "image/webp; charset=binary"},
    )
    download = openai.download("v1", {}, variant="thumbnail")
    assert b"".join(download.chunks) == b"RIFFwebp"
    assert download.content_type == "image/webp"


def test_openai_download_expired_404_is_content_expired(rsps, openai):
    rsps.get(f"{VIDEOS}/v1/content", status=404, json=OPENAI_EXPIRED_404)
    with pytest.raises(pb.ContentExpired) as info:
        openai.download("v1", {})
    assert info.value.code == "content_expired"


def test_list_jobs_matches_prompt_model_and_created_at(rsps, openai):
    since = datetime(2025, 11, 28, 16, 0, 0)  # naive UTC
    before = int(datetime(2025, 11, 28, 15, 59, tzinfo=UTC).timestamp())
    after = int(datetime(2025, 11, 28, 16, 5, tzinfo=UTC).timestamp())
    listing = {
        "object": "list",
        "data": [
            reply(id="v_other_prompt", prompt="something else", created_at=after),
            reply(id="v_other_model", model="sora-2-pro", created_at=after),
            {
                **NEWAPI_CREATED,
                "id": None,
                "task_id": "task_match",
                "model": "sora-2",
                "prompt": OPENAI_VIDEO["prompt"],
                "status": "in_progress",
                "created_at": after * 1000,
            },  # milliseconds, task_id alias
            reply(id="v_too_old", created_at=before),
        ],
        "first_id": "v_other_prompt",
        "last_id": "v_too_old",
        "has_more": False,
    }
    rsps.get(
        VIDEOS,
        json=listing,
        match=[matchers.query_param_matcher({"order": "desc", "limit": "100"})],
    )
    job = Job(model="sora-2", prompt=OPENAI_VIDEO["prompt"])
    [found] = listed_matching(openai, job, since)
    assert found.external_id == "task_match"
    assert found.status.state == pb.IN_PROGRESS


def test_list_jobs_ignores_jobs_older_than_since(rsps, openai):
    listing = {"object": "list", "data": [reply(created_at=1000)], "has_more": False}
    rsps.get(VIDEOS, json=listing)
    job = Job(model="sora-2", prompt=OPENAI_VIDEO["prompt"])
    assert listed_matching(openai, job, datetime(2025, 1, 1)) == []


def test_check_200_key_accepted(rsps, openai):
    rsps.get(VIDEOS, json={"object": "list", "data": []})
    result = openai.check()
    assert (result.ok, result.reachable, result.authenticated) == (True, True, True)
    assert KEY not in result.message


def test_check_401_reachable_but_refused(rsps, openai):
    rsps.get(VIDEOS, status=401, json={"error": {"message": f"Invalid token {KEY}"}})
    result = openai.check()
    assert (result.ok, result.reachable, result.authenticated) == (False, True, False)
    assert KEY not in result.message


def test_check_404_gateway_without_list(rsps, openai):
    rsps.get(VIDEOS, status=404, json={"error": {"message": "Invalid URL (GET /v1/videos)"}})
    result = openai.check()
    assert (result.ok, result.reachable, result.authenticated) == (True, True, None)


# ---------------------------------------------------------------------------------------
# 2. fal queue
# ---------------------------------------------------------------------------------------


@pytest.fixture
def fal():
    return make("fal", FAL, path_prefix="")


def test_fal_submit_stores_queue_urls_verbatim(rsps, fal):
    rsps.post(f"{FAL}/{FAL_MODEL}", json=FAL_CREATED)
    job = Job(
        model=FAL_MODEL,
        prompt="A lighthouse",
        seconds=5,
        aspect_ratio="16:9",
        reference_image=PNG,
        reference_mime="image/png",
    )
    submitted = fal.submit(job)

    assert submitted.external_id == FAL_REQUEST_ID
    assert (
        FAL_HANDLES.items() <= submitted.handles.items()
    )  # verbatim, without the endpoint sub-path
    assert submitted.status.state == pb.QUEUED
    request = rsps.calls[0].request
    assert request.headers["Authorization"] == f"Key {KEY}"
    body = body_of(rsps.calls[0])
    assert body["prompt"] == "A lighthouse"
    assert body["duration"] == "5"
    assert body["aspect_ratio"] == "16:9"
    assert body["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        ({"status": "IN_QUEUE", "request_id": FAL_REQUEST_ID, "queue_position": 3}, pb.QUEUED),
        ({"status": "IN_PROGRESS", "request_id": FAL_REQUEST_ID, "logs": []}, pb.IN_PROGRESS),
    ],
)
def test_fal_status_queued_and_in_progress(rsps, fal, payload, state):
    rsps.get(FAL_STATUS_URL, status=202, json={**FAL_HANDLES, **payload})
    status = fal.status(FAL_REQUEST_ID, FAL_HANDLES)
    assert status.state == state
    assert status.raw_status == payload["status"]
    assert rsps.calls[0].request.headers["Authorization"] == f"Key {KEY}"


def test_fal_completed_fetches_the_result(rsps, fal):
    completed = {
        "status": "COMPLETED",
        "request_id": FAL_REQUEST_ID,
        "logs": [],
        "metrics": {"inference_time": 83.2},
        **FAL_HANDLES,
    }
    rsps.get(FAL_STATUS_URL, json=completed)
    rsps.get(FAL_RESPONSE_URL, json=FAL_RESULT)
    status = fal.status(FAL_REQUEST_ID, FAL_HANDLES)
    assert status.state == pb.COMPLETED
    assert status.progress == 100
    assert status.result_urls == {"video": FAL_CDN_URL}
    assert rsps.calls[1].request.headers["Authorization"] == f"Key {KEY}"


def test_fal_completed_but_result_422_is_failed_with_short_message(rsps, fal):
    rsps.get(FAL_STATUS_URL, json={"status": "COMPLETED", "request_id": FAL_REQUEST_ID})
    rsps.get(
        FAL_RESPONSE_URL, status=422, json=FAL_422, headers={"X-Fal-Error-Type": "image_too_small"}
    )
    status = fal.status(FAL_REQUEST_ID, FAL_HANDLES)
    assert status.state == pb.FAILED
    assert status.raw_status == "COMPLETED"
    assert status.error_code == "image_too_small"
    assert status.error_message
    assert len(status.error_message) <= 160
    assert "loc" not in status.error_message and "{" not in status.error_message


def test_fal_result_422_message_carries_the_validation_msg(rsps, fal):
    rsps.get(FAL_STATUS_URL, json={"status": "COMPLETED", "request_id": FAL_REQUEST_ID})
    rsps.get(FAL_RESPONSE_URL, status=422, json=FAL_422)
    status = fal.status(FAL_REQUEST_ID, FAL_HANDLES)
    assert "Image dimensions are too small" in status.error_message


def test_fal_string_error_on_status_is_failed(rsps, fal):
    rsps.get(
        FAL_STATUS_URL,
        json={"status": "COMPLETED", "error": "Request timed out", "error_type": "request_timeout"},
    )
    status = fal.status(FAL_REQUEST_ID, FAL_HANDLES)
    assert status.state == pb.FAILED
    assert status.error_code == "request_timeout"
    assert status.error_message == "Request timed out"


def test_fal_download_does_not_send_the_key_to_the_cdn(rsps, fal):
    rsps.get(FAL_RESPONSE_URL, json=FAL_RESULT)
    rsps.get(FAL_CDN_URL, body=MP4, content_type="video/mp4")
    download = fal.download(FAL_REQUEST_ID, FAL_HANDLES)
    assert b"".join(download.chunks) == MP4
    assert download.content_type == "video/mp4"

    queue_call, cdn_call = rsps.calls
    assert queue_call.request.headers["Authorization"] == f"Key {KEY}"
    assert cdn_call.request.url == FAL_CDN_URL
    assert "Authorization" not in cdn_call.request.headers
    assert KEY not in json.dumps(dict(cdn_call.request.headers))


def test_fal_cancel_puts_the_stored_cancel_url(rsps, fal):
    rsps.put(FAL_CANCEL_URL, status=202, json={"status": "CANCELLATION_REQUESTED"})
    fal.cancel(FAL_REQUEST_ID, FAL_HANDLES)
    assert rsps.calls[0].request.method == "PUT"
    assert rsps.calls[0].request.url == FAL_CANCEL_URL
    assert rsps.calls[0].request.headers["Authorization"] == f"Key {KEY}"


# ---------------------------------------------------------------------------------------
# 3. Replicate
# ---------------------------------------------------------------------------------------


@pytest.fixture
def replicate():
    return make("replicate", "https://api.replicate.com")


def prediction(**fields) -> dict:
    return {**REPLICATE_PREDICTION, **fields}


def test_replicate_submit_uses_the_official_model_route(rsps, replicate):
    rsps.post(
        f"{REPLICATE}/models/google/veo-3.1/predictions", status=201, json=REPLICATE_PREDICTION
    )
    job = Job(
        model="google/veo-3.1",
        prompt="A lighthouse at dusk, waves crashing",
        seconds=8,
        aspect_ratio="16:9",
    )
    submitted = replicate.submit(job)

    assert submitted.external_id == REPLICATE_ID
    assert submitted.status.state == pb.QUEUED
    assert submitted.handles == {"get": REPLICATE_GET, "cancel": REPLICATE_CANCEL}
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"
    assert body_of(rsps.calls[0]) == {
        "input": {
            "prompt": "A lighthouse at dusk, waves crashing",
            "aspect_ratio": "16:9",
            "duration": 8,
        }
    }


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
def test_replicate_status_mapping(rsps, replicate, word, state):
    output = REPLICATE_OUTPUT if word == "succeeded" else None
    error = "CUDA out of memory" if word == "failed" else None
    rsps.get(REPLICATE_GET, json=prediction(status=word, output=output, error=error))
    status = replicate.status(REPLICATE_ID, {"get": REPLICATE_GET})
    assert status.state == state
    assert status.raw_status == word
    if word == "failed":
        assert status.error_message == "CUDA out of memory"


@pytest.mark.parametrize(
    "output", [REPLICATE_OUTPUT, [REPLICATE_OUTPUT, "https://replicate.delivery/x/2.mp4"]]
)
def test_replicate_output_string_or_list_and_one_hour_expiry(rsps, replicate, output):
    done = prediction(status="succeeded", output=output, completed_at="2026-10-01T16:21:00.123456Z")
    rsps.get(REPLICATE_GET, json=done)
    status = replicate.status(REPLICATE_ID, {"get": REPLICATE_GET})
    assert status.state == pb.COMPLETED
    assert status.progress == 100
    assert status.result_urls == {"video": REPLICATE_OUTPUT}
    assert status.expires_at == datetime(2026, 10, 1, 17, 21, 0, 123456)


def test_replicate_status_without_get_handle_builds_the_url(rsps, replicate):
    rsps.get(REPLICATE_GET, json=prediction(status="processing"))
    assert replicate.status(REPLICATE_ID, {}).state == pb.IN_PROGRESS


def test_replicate_data_removed_download_is_content_expired(rsps, replicate):
    removed = prediction(
        status="succeeded", output=None, data_removed=True, completed_at="2026-10-01T16:21:00Z"
    )
    rsps.get(REPLICATE_GET, json=removed)
    with pytest.raises(pb.ContentExpired):
        replicate.download(REPLICATE_ID, {"get": REPLICATE_GET})
    assert len(rsps.calls) == 1


def test_replicate_download_streams_the_output(rsps, replicate):
    rsps.get(REPLICATE_GET, json=prediction(status="succeeded", output=REPLICATE_OUTPUT))
    rsps.get(REPLICATE_OUTPUT, body=MP4, content_type="video/mp4")
    download = replicate.download(REPLICATE_ID, {"get": REPLICATE_GET})
    assert b"".join(download.chunks) == MP4


def test_replicate_cancel_posts_urls_cancel(rsps, replicate):
    rsps.post(REPLICATE_CANCEL, json=prediction(status="canceled"))
    replicate.cancel(REPLICATE_ID, {"get": REPLICATE_GET, "cancel": REPLICATE_CANCEL})
    assert rsps.calls[0].request.method == "POST"
    assert rsps.calls[0].request.url == REPLICATE_CANCEL


def test_replicate_list_jobs_from_the_list(rsps, replicate):
    listing = {
        "next": None,
        "previous": None,
        "results": [
            prediction(id="other", input={"prompt": "not this"}),
            prediction(id="old", created_at="2026-10-01T15:00:00Z"),
            prediction(status="processing"),
        ],
    }
    rsps.get(f"{REPLICATE}/predictions", json=listing)
    [found] = listed_matching(
        replicate,
        Job(model="google/veo-3.1", prompt="A lighthouse at dusk, waves crashing"),
        datetime(2026, 10, 1, 16, 0, 0),
    )
    assert found.external_id == REPLICATE_ID
    assert found.status.state == pb.IN_PROGRESS
    assert found.handles == {"get": REPLICATE_GET, "cancel": REPLICATE_CANCEL}


# ---------------------------------------------------------------------------------------
# 4. Gemini (Veo long-running operations, Gemini image generateContent)
# ---------------------------------------------------------------------------------------


@pytest.fixture
def gemini():
    return make("gemini", "https://generativelanguage.googleapis.com", path_prefix="/v1beta")


def test_gemini_predict_long_running_request(rsps, gemini):
    rsps.post(f"{GEMINI}/models/{VEO_MODEL}:predictLongRunning", json={"name": VEO_OP})
    job = Job(
        model=VEO_MODEL,
        prompt="A lighthouse at dusk, waves crashing",
        size="1920x1080",
        seconds=8,
        aspect_ratio="16:9",
        reference_image=PNG,
        reference_mime="image/png",
    )
    submitted = gemini.submit(job)

    assert submitted.external_id == VEO_OP
    assert submitted.status.state == pb.QUEUED
    request = rsps.calls[0].request
    assert request.headers["x-goog-api-key"] == KEY
    assert "Authorization" not in request.headers
    body = body_of(rsps.calls[0])
    instance = body["instances"][0]
    assert instance["prompt"] == "A lighthouse at dusk, waves crashing"
    assert instance["image"] == {
        "bytesBase64Encoded": base64.b64encode(PNG).decode(),
        "mimeType": "image/png",
    }
    params = body["parameters"]
    assert params["aspectRatio"] == "16:9"
    assert params["durationSeconds"] == 8
    assert params["resolution"] == "1080p"


def test_gemini_operation_not_done_is_in_progress(rsps, gemini):
    rsps.get(f"{GEMINI}/{VEO_OP}", json={"name": VEO_OP, "done": False})
    status = gemini.status(VEO_OP, {})
    assert status.state == pb.IN_PROGRESS
    assert rsps.calls[0].request.headers["x-goog-api-key"] == KEY


def test_gemini_done_with_error_is_failed(rsps, gemini):
    op = {
        "name": VEO_OP,
        "done": True,
        "error": {"code": 400, "message": "Invalid  image\nformat.", "status": "INVALID_ARGUMENT"},
    }
    rsps.get(f"{GEMINI}/{VEO_OP}", json=op)
    status = gemini.status(VEO_OP, {})
    assert status.state == pb.FAILED
    assert status.error_code == "INVALID_ARGUMENT"
    assert status.error_message == "Invalid image format."


def test_gemini_done_with_samples_is_completed(rsps, gemini):
    rsps.get(f"{GEMINI}/{VEO_OP}", json=VEO_DONE)
    status = gemini.status(VEO_OP, {})
    assert status.state == pb.COMPLETED
    assert status.progress == 100
    assert status.result_urls == {"video": VEO_VIDEO_URI}
    assert status.expires_at is not None and status.expires_at > datetime.utcnow() + timedelta(
        days=1
    )


def test_gemini_rai_filtered_is_failed_with_the_reason(rsps, gemini):
    reason = "Your current safety settings for person generation blocked this video."
    op = {
        "name": VEO_OP,
        "done": True,
        "response": {
            "generateVideoResponse": {
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": [reason],
            }
        },
    }
    rsps.get(f"{GEMINI}/{VEO_OP}", json=op)
    status = gemini.status(VEO_OP, {})
    assert status.state == pb.FAILED
    assert status.error_code == "rai_media_filtered"
    assert reason in status.error_message


def test_gemini_download_follows_redirect_without_the_key(rsps, gemini):
    storage = "https://storage.googleusercontent.com/veo/3x9abc/video.mp4?sig=abc"
    rsps.get(f"{GEMINI}/{VEO_OP}", json=VEO_DONE)
    rsps.get(VEO_VIDEO_URI, status=302, headers={"Location": storage})
    rsps.get(storage, body=MP4, content_type="video/mp4")
    download = gemini.download(VEO_OP, {})
    assert b"".join(download.chunks) == MP4

    op_call, api_call, storage_call = rsps.calls
    assert api_call.request.url == VEO_VIDEO_URI
    assert api_call.request.headers["x-goog-api-key"] == KEY
    assert storage_call.request.url == storage
    assert "x-goog-api-key" not in storage_call.request.headers
    assert "Authorization" not in storage_call.request.headers
    assert KEY not in json.dumps(dict(storage_call.request.headers))


def test_gemini_image_generate_content_is_inline_and_completed(rsps, gemini):
    answer = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Here is your robot."},
                        {
                            "inlineData": {
                                "mimeType": "image/png",
                                "data": base64.b64encode(PNG).decode(),
                            }
                        },
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "responseId": "resp-abc",
    }
    rsps.post(f"{GEMINI}/models/gemini-3.1-flash-image:generateContent", json=answer)
    job = Job(
        model="gemini-3.1-flash-image",
        prompt="A robot holding a red skateboard",
        media_type="IMAGE",
        aspect_ratio="16:9",
    )
    submitted = gemini.submit(job)

    assert isinstance(submitted, pb.Submitted)
    assert submitted.status.state == pb.COMPLETED
    assert submitted.inline_results == {"image": (PNG, "image/png")}
    assert submitted.external_id == "resp-abc"
    body = body_of(rsps.calls[0])
    assert body["contents"][0]["parts"][0] == {"text": "A robot holding a red skateboard"}
    assert body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}
    assert rsps.calls[0].request.headers["x-goog-api-key"] == KEY


def test_gemini_image_blocked_prompt_is_permanent(rsps, gemini):
    rsps.post(
        f"{GEMINI}/models/gemini-3.1-flash-image:generateContent",
        json={"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}},
    )
    with pytest.raises(pb.PermanentError) as info:
        gemini.submit(Job(model="gemini-3.1-flash-image", prompt="x", media_type="IMAGE"))
    assert "prohibited content" in info.value.message
    assert not isinstance(info.value, pb.AmbiguousError)


# ---------------------------------------------------------------------------------------
# 5. Typed faults
# ---------------------------------------------------------------------------------------

REFUSED = (
    "HTTPSConnectionPool(host='gw.example.com', port=443): Max retries exceeded with url: "
    "/v1/videos (Caused by NewConnectionError(\"HTTPSConnection(host='gw.example.com', "
    'port=443): Failed to establish a new connection: [Errno 111] Connection refused"))'
)
DROPPED = (
    "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"
)
DNS_TEMPORARY = (
    "HTTPSConnectionPool(host='gw.example.com', port=443): Max retries exceeded with url: "
    "/v1/videos (Caused by NameResolutionError(\"HTTPSConnection(host='gw.example.com', "
    "port=443): Failed to resolve 'gw.example.com' ([Errno -3] Temporary failure in name "
    'resolution)"))'
)


def submit_plain(adapter):
    return adapter.submit(Job(model="sora-2", prompt="p", client_ref="ref-1"))


def test_connection_refused_is_transient_on_create_and_status(rsps, openai):
    rsps.post(VIDEOS, body=requests.exceptions.ConnectionError(REFUSED))
    rsps.get(f"{VIDEOS}/v1", body=requests.exceptions.ConnectionError(REFUSED))
    with pytest.raises(pb.TransientError) as create:
        submit_plain(openai)
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})
    assert not isinstance(create.value, pb.AmbiguousError)


def test_connect_timeout_is_transient_even_on_create(rsps, openai):
    rsps.post(VIDEOS, body=requests.exceptions.ConnectTimeout("Connection to gw timed out"))
    with pytest.raises(pb.TransientError):
        submit_plain(openai)


def test_read_timeout_is_ambiguous_on_create_transient_on_status(rsps, openai):
    rsps.post(VIDEOS, body=requests.exceptions.ReadTimeout("Read timed out. (read timeout=1)"))
    rsps.get(f"{VIDEOS}/v1", body=requests.exceptions.ReadTimeout("Read timed out."))
    with pytest.raises(pb.AmbiguousError):
        submit_plain(openai)
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})


def test_connection_dropped_after_send_is_ambiguous_on_create(rsps, openai):
    rsps.post(VIDEOS, body=requests.exceptions.ConnectionError(DROPPED))
    rsps.get(f"{VIDEOS}/v1", body=requests.exceptions.ConnectionError(DROPPED))
    with pytest.raises(pb.AmbiguousError) as info:
        submit_plain(openai)
    assert info.value.code == "upstream_ambiguous"
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})


def test_remix_is_a_create_too(rsps, openai):
    rsps.post(f"{VIDEOS}/v1/remix", body=requests.exceptions.ReadTimeout("Read timed out."))
    with pytest.raises(pb.AmbiguousError):
        openai.remix("v1", {}, Job(model="sora-2", prompt="more cats"))


def test_dns_failure_on_create_is_transient_not_ambiguous(rsps, openai):
    rsps.post(VIDEOS, body=requests.exceptions.ConnectionError(DNS_TEMPORARY))
    with pytest.raises(pb.TransientError):
        submit_plain(openai)


@pytest.mark.parametrize("method", ["create", "status"])
def test_429_retry_after_seconds(rsps, openai, method):
    add = rsps.post if method == "create" else rsps.get
    url = VIDEOS if method == "create" else f"{VIDEOS}/v1"
    add(url, status=429, json={"error": {"message": "Rate limit"}}, headers={"Retry-After": "7"})
    with pytest.raises(pb.RateLimited) as info:
        submit_plain(openai) if method == "create" else openai.status("v1", {})
    assert info.value.retry_after == pytest.approx(7)
    assert isinstance(info.value, pb.TransientError)
    assert info.value.code == "upstream_rate_limited"


def test_429_retry_after_http_date(rsps, openai):
    when = datetime.now(UTC) + timedelta(seconds=30)
    rsps.get(
        f"{VIDEOS}/v1", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    with pytest.raises(pb.RateLimited) as info:
        openai.status("v1", {})
    assert 27 <= info.value.retry_after <= 31


def test_429_retry_after_ms(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", status=429, headers={"retry-after-ms": "1500", "Retry-After": "9"})
    with pytest.raises(pb.RateLimited) as info:
        openai.status("v1", {})
    assert info.value.retry_after == pytest.approx(1.5)


@pytest.mark.parametrize("code", [500, 503])
@pytest.mark.parametrize("method", ["create", "status"])
def test_500_and_503_are_transient(rsps, openai, code, method):
    if method == "create":
        rsps.post(VIDEOS, status=code, body="<html>Bad gateway</html>")
    else:
        rsps.get(f"{VIDEOS}/v1", status=code, body="<html>oops</html>")
    with pytest.raises(pb.TransientError) as info:
        submit_plain(openai) if method == "create" else openai.status("v1", {})
    assert not isinstance(info.value, pb.RateLimited)
    assert "html" not in info.value.message


def test_503_retry_after_is_kept(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", status=503, headers={"Retry-After": "12"})
    with pytest.raises(pb.TransientError) as info:
        openai.status("v1", {})
    assert info.value.retry_after == pytest.approx(12)


@pytest.mark.parametrize("code", [502, 504])
def test_502_504_are_ambiguous_on_create_transient_on_status(rsps, openai, code):
    rsps.post(VIDEOS, status=code, body="gateway timeout")
    rsps.get(f"{VIDEOS}/v1", status=code, body="gateway timeout")
    with pytest.raises(pb.AmbiguousError):
        submit_plain(openai)
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})


@pytest.mark.parametrize("code", [401, 403])
def test_401_403_are_auth_errors(rsps, openai, code):
    body = {
        "error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}
    }
    rsps.post(VIDEOS, status=code, json=body)
    with pytest.raises(pb.AuthError) as info:
        submit_plain(openai)
    assert isinstance(info.value, pb.PermanentError)
    assert info.value.code == "upstream_auth"
    assert KEY not in info.value.message


def test_404_on_status_is_not_found(rsps, openai):
    rsps.get(f"{VIDEOS}/gone", status=404, json={"error": {"message": "Video not found"}})
    with pytest.raises(pb.NotFound) as info:
        openai.status("gone", {})
    assert info.value.message == "Video not found"


def test_400_long_error_body_is_summarised(rsps, openai):
    long_message = "Invalid value for 'size': " + "the requested size is not supported. " * 20
    body = {
        "error": {
            "message": long_message,
            "type": "invalid_request_error",
            "param": "size",
            "code": "invalid_value",
        }
    }
    raw = json.dumps(body)
    assert len(raw) > 500
    rsps.post(VIDEOS, status=400, body=raw, content_type="application/json")
    with pytest.raises(pb.PermanentError) as info:
        submit_plain(openai)
    error = info.value
    assert type(error) is pb.PermanentError
    assert error.message.startswith("Invalid value for 'size'")
    assert len(error.message) <= 160
    assert len(str(error)) <= 160
    assert raw not in error.message
    assert "invalid_request_error" not in error.message
    assert "{" not in error.message


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": f"Bad request for key {KEY}: prompt too long"}},
        {"error": f"key {KEY} has no access to model sora-2"},
        {"detail": f"token {KEY} invalid for this endpoint"},
        {"error": {"message": "x" * 150 + KEY}},  # the key straddles the cut
    ],
)
def test_400_body_echoing_the_key_never_yields_it(rsps, openai, body):
    rsps.post(VIDEOS, status=400, json=body)
    with pytest.raises(pb.PermanentError) as info:
        submit_plain(openai)
    assert KEY not in info.value.message
    assert KEY not in str(info.value)
    assert "SECRET" not in info.value.message
    assert len(info.value.message) <= 160


def test_400_non_json_body_gets_a_generic_message(rsps, openai):
    rsps.post(VIDEOS, status=400, body="<html><body>Bad Request " + KEY + "</body></html>")
    with pytest.raises(pb.PermanentError) as info:
        submit_plain(openai)
    assert info.value.message == "The provider rejected the request (HTTP 400)."


def test_malformed_json_on_200(rsps, openai):
    rsps.post(VIDEOS, body='{"id": "video_1", "status": ', content_type="application/json")
    rsps.get(f"{VIDEOS}/v1", body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(pb.AmbiguousError):
        submit_plain(openai)
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})


def test_json_that_is_not_an_object_on_200(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", json=["not", "an", "object"])
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})


@pytest.mark.parametrize(
    "answer", [{"object": "video", "status": "queued"}, {"id": ""}, {"id": 42}]
)
def test_200_create_without_id_is_ambiguous(rsps, openai, answer):
    rsps.post(VIDEOS, json=answer)
    with pytest.raises(pb.AmbiguousError):
        submit_plain(openai)


@pytest.mark.parametrize(
    ("kind", "base", "prefix", "url", "job"),
    [
        ("fal", FAL, "", f"{FAL}/{FAL_MODEL}", Job(model=FAL_MODEL, prompt="p")),
        (
            "replicate",
            "https://api.replicate.com",
            "/v1",
            f"{REPLICATE}/models/google/veo-3.1/predictions",
            Job(model="google/veo-3.1", prompt="p"),
        ),
        (
            "gemini",
            "https://generativelanguage.googleapis.com",
            "/v1beta",
            f"{GEMINI}/models/{VEO_MODEL}:predictLongRunning",
            Job(model=VEO_MODEL, prompt="p"),
        ),
    ],
)
def test_other_adapters_create_without_id_or_on_timeout_is_ambiguous(
    rsps, kind, base, prefix, url, job
):
    adapter = make(kind, base, path_prefix=prefix)
    rsps.post(url, json={"status": "IN_QUEUE"})
    rsps.post(url, body=requests.exceptions.ReadTimeout("Read timed out."))
    with pytest.raises(pb.AmbiguousError):
        adapter.submit(job)
    with pytest.raises(pb.AmbiguousError):
        adapter.submit(job)


# ---------------------------------------------------------------------------------------
# 6. Key hygiene
# ---------------------------------------------------------------------------------------


def test_config_repr_hides_the_key():
    config = ProviderConfig(kind="openai", base_url=GW, api_key=KEY)
    assert KEY not in repr(config)
    assert KEY not in str(config)
    assert "SECRET" not in repr(config)


def test_key_never_in_logs_or_exception_messages(rsps, caplog):
    caplog.set_level(logging.DEBUG)
    openai = make("openai", GW)
    fal = make("fal", FAL, path_prefix="")
    gemini = make("gemini", "https://generativelanguage.googleapis.com", path_prefix="/v1beta")
    echo = {"error": {"message": f"bad key {KEY}", "code": KEY}, "detail": KEY}
    rsps.post(VIDEOS, status=400, json=echo)
    rsps.get(f"{VIDEOS}/a", status=401, json=echo)
    rsps.get(f"{VIDEOS}/b", status=404, json=echo)
    rsps.get(f"{VIDEOS}/c", status=500, json=echo)
    rsps.get(f"{VIDEOS}/d", body=requests.exceptions.ConnectionError(f"reset {KEY}"))
    rsps.get(f"{VIDEOS}/e/content", status=404, json=echo)
    rsps.get(FAL_STATUS_URL, status=403, json=echo)
    rsps.get(f"{GEMINI}/{VEO_OP}", status=429, json=echo, headers={"Retry-After": "1"})

    errors = []
    calls = [
        lambda: submit_plain(openai),
        lambda: openai.status("a", {}),
        lambda: openai.status("b", {}),
        lambda: openai.status("c", {}),
        lambda: openai.status("d", {}),
        lambda: openai.download("e", {}),
        lambda: fal.status(FAL_REQUEST_ID, FAL_HANDLES),
        lambda: gemini.status(VEO_OP, {}),
    ]
    for call in calls:
        with pytest.raises(pb.ProviderError) as info:
            call()
        errors.append(info.value)

    assert len(errors) == len(calls)
    for error in errors:
        assert KEY not in str(error)
        assert KEY not in error.message
        assert KEY not in repr(error)
    assert caplog.records, "the failing requests should have been logged"
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.args)
    assert KEY not in caplog.text
