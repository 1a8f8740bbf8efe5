"""The OpenAI Videos protocol as each profile serves it: OpenAI at /v1, new-api at
/newapi/v1, the LiteLLM proxy at /litellm/v1, a Sora relay at /sora/v1. (The official
``openai`` SDK drives /v1 and /sora/v1 in tests/official_clients/test_openai_sdk.py.)"""

from __future__ import annotations

import pytest
from sim_helpers import KEY, assert_mp4, image_format

AUTH = {"Authorization": f"Bearer {KEY}"}


def create(http, sim, prefix="/v1", headers=None, **body):
    body.setdefault("prompt", "A lighthouse at dusk")
    return http.post(f"{sim.url}{prefix}/videos", json=body, headers=headers or AUTH, timeout=10)


@pytest.mark.parametrize("prefix", ["/v1"])
def test_happy_path_create_progress_complete_download(simsrv, http, prefix):
    simsrv.set_config(POLL_AFTER_MS=1500)
    r = create(http, simsrv, prefix, model="sora-2", seconds="8", size="1280x720")
    assert r.status_code == 200, r.text
    video = r.json()
    assert video["id"].startswith("video_") and video["object"] == "video"
    assert (video["status"], video["progress"], video["seconds"]) == ("queued", 0, "8")
    assert video["size"] == "1280x720" and video["model"] == "sora-2"
    assert video["completed_at"] is None and video["error"] is None
    assert isinstance(video["created_at"], int) and video["created_at"] < 10**11  # seconds
    url = f"{simsrv.url}{prefix}/videos/{video['id']}"

    simsrv.advance(2)  # queue 1 s, run 4 s: a quarter through
    r = http.get(url, headers=AUTH)
    assert r.headers["openai-poll-after-ms"] == "1500"
    assert r.json()["status"] == "in_progress" and 15 <= r.json()["progress"] <= 35
    assert http.get(url + "/content", headers=AUTH).status_code == 400  # not ready

    simsrv.advance(4)
    done = http.get(url, headers=AUTH).json()
    assert (done["status"], done["progress"]) == ("completed", 100)
    assert done["expires_at"] == done["completed_at"] + 3600

    r = http.get(url + "/content", headers=AUTH)
    assert r.status_code == 200 and r.headers["Content-Type"] == "video/mp4"
    assert_mp4(r.content)
    thumb = http.get(url + "/content?variant=thumbnail", headers=AUTH)
    assert thumb.headers["Content-Type"] == "image/webp"
    assert image_format(thumb.content) == "WEBP"
    sheet = http.get(url + "/content", params={"variant": "spritesheet"}, headers=AUTH)
    assert sheet.headers["Content-Type"] == "image/jpeg"
    assert image_format(sheet.content) == "JPEG"
    bad = http.get(url + "/content?variant=gif", headers=AUTH)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "variant"


def test_range_requests_on_content(simsrv, http):
    vid = create(http, simsrv).json()["id"]
    simsrv.advance(10)
    url = f"{simsrv.url}/v1/videos/{vid}/content"
    full = http.get(url, headers=AUTH).content
    part = http.get(url, headers={**AUTH, "Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == full[10:100]
    assert part.headers["Content-Range"] == f"bytes 10-99/{len(full)}"
    assert http.head(url, headers=AUTH).headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Key " + KEY}, {"x-api-key": KEY}],
)
def test_auth_refused(simsrv, http, headers):
    r = http.post(f"{simsrv.url}/v1/videos", json={"prompt": "x"}, headers=headers)
    assert r.status_code == 401
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["code"] == "invalid_api_key"
    assert simsrv.stats()["created_total"] == 0


def test_raw_authorization_header_accepted(simsrv, http):
    assert create(http, simsrv, headers={"Authorization": KEY}).status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 32001}, "prompt"),
        ({"prompt": "ok", "seconds": "7"}, "seconds"),
        ({"prompt": "ok", "seconds": 8.5}, "seconds"),
        ({"prompt": "ok", "size": "640x480"}, "size"),
        (
            {"prompt": "ok", "input_reference": {"image_url": "u", "file_id": "f"}},
            "input_reference",
        ),
    ],
)
def test_validation_errors(simsrv, http, body, param):
    r = http.post(f"{simsrv.url}/v1/videos", json=body, headers=AUTH)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and err["message"]
    assert simsrv.stats()["created_total"] == 0


@pytest.mark.parametrize(
    "prefix, ok, refused",
    [
        ("/v1", ["4", "8", "12"], ["6", "10", "15", "20"]),
        ("/newapi/v1", ["4", "8", "12"], ["10", "20"]),
        ("/litellm/v1", ["4", "8", "12"], ["10"]),
        ("/sora/v1", ["4", "8", "10", "12", "15"], ["6", "20"]),
    ],
)
def test_each_profile_takes_exactly_its_durations(simsrv, http, prefix, ok, refused):
    for seconds in ok:
        r = create(http, simsrv, prefix, model="sora-2", seconds=seconds, size="1280x720")
        assert r.status_code == 200, (seconds, r.text)
    for seconds in refused:
        r = create(http, simsrv, prefix, model="sora-2", seconds=seconds, size="1280x720")
        assert r.status_code == 400, seconds
    assert create(http, simsrv, prefix, model="sora-2", size="1024x1792").status_code == 400
    assert create(
        http, simsrv, prefix, model="sora-2-pro", size="1024x1792", seconds="4"
    ).status_code in (
        200,
        400 if prefix == "/sora/v1" else 200,
    )


def test_multipart_with_input_reference(simsrv, http):
    files = {"input_reference": ("ref.png", b"\x89PNG fake", "image/png")}
    data = {"prompt": "from a picture", "seconds": "4", "size": "720x1280"}
    r = http.post(f"{simsrv.url}/v1/videos", data=data, files=files, headers=AUTH)
    assert r.status_code == 200 and r.json()["size"] == "720x1280"
    files = {"input_reference": ("ref.gif", b"GIF89a", "image/gif")}
    r = http.post(f"{simsrv.url}/v1/videos", data=data, files=files, headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["param"] == "input_reference"


def test_list_pagination(simsrv, http):
    ids = [create(http, simsrv, prompt=f"clip {i}").json()["id"] for i in range(5)]
    url = f"{simsrv.url}/v1/videos"
    page = http.get(url, params={"limit": 2}, headers=AUTH).json()
    assert page["object"] == "list" and page["has_more"] is True
    assert [v["id"] for v in page["data"]] == ids[::-1][:2]
    assert (page["first_id"], page["last_id"]) == (ids[4], ids[3])
    seen = [v["id"] for v in page["data"]]
    while page["has_more"]:
        page = http.get(url, params={"limit": 2, "after": page["last_id"]}, headers=AUTH).json()
        seen += [v["id"] for v in page["data"]]
    assert seen == ids[::-1]
    asc = http.get(url, params={"order": "asc", "limit": 100}, headers=AUTH).json()
    assert [v["id"] for v in asc["data"]] == ids and asc["has_more"] is False
    assert http.get(url, params={"limit": 101}, headers=AUTH).status_code == 400


def test_delete_removes_and_stops(simsrv, http):
    vid = create(http, simsrv).json()["id"]
    r = http.delete(f"{simsrv.url}/v1/videos/{vid}", headers=AUTH)
    assert r.json() == {"id": vid, "object": "video.deleted", "deleted": True}
    r = http.get(f"{simsrv.url}/v1/videos/{vid}", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["message"]
    assert simsrv.stats()["requests"]["delete"] == 1


def test_remix(simsrv, http):
    vid = create(http, simsrv).json()["id"]
    url = f"{simsrv.url}/v1/videos/{vid}/remix"
    assert http.post(url, json={"prompt": "more fog"}, headers=AUTH).status_code == 400  # not done
    simsrv.advance(10)
    r = http.post(url, json={"prompt": "more fog"}, headers=AUTH)
    remix = r.json()
    assert r.status_code == 200 and remix["remixed_from_video_id"] == vid
    assert remix["id"] != vid and remix["status"] == "queued" and remix["prompt"] == "more fog"
    assert http.post(url, json={"prompt": ""}, headers=AUTH).status_code == 400
    assert simsrv.stats()["created_total"] == 2


def test_expiry_by_time_and_on_demand(simsrv, http):
    a = create(http, simsrv, prompt="a").json()["id"]
    b = create(http, simsrv, prompt="b").json()["id"]
    simsrv.advance(10)
    assert http.get(f"{simsrv.url}/v1/videos/{a}/content", headers=AUTH).status_code == 200
    r = http.post(f"{simsrv.url}/_sim/jobs/{a}/expire")
    assert r.status_code == 200
    r = http.get(f"{simsrv.url}/v1/videos/{a}/content", headers=AUTH)
    assert r.status_code == 404
    assert r.json()["error"] == {
        "message": "The video is no longer available. Downloads expire after 1 hour.",
        "type": "invalid_request_error",
        "param": None,
        "code": "video_expired",
    }
    simsrv.advance(3601)
    assert http.get(f"{simsrv.url}/v1/videos/{b}/content", headers=AUTH).status_code == 404
    assert http.post(f"{simsrv.url}/_sim/jobs/nope/expire").status_code == 404


def test_magic_words_and_failure_rate(simsrv, http):
    failing = create(http, simsrv, prompt="a [fail] video").json()["id"]
    slow = create(http, simsrv, prompt="a [slow] video").json()["id"]
    simsrv.advance(6)
    failed = http.get(f"{simsrv.url}/v1/videos/{failing}", headers=AUTH).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "moderation_blocked"
    assert http.get(f"{simsrv.url}/v1/videos/{slow}", headers=AUTH).json()["status"] in (
        "queued",
        "in_progress",
    )
    simsrv.advance(20)
    assert http.get(f"{simsrv.url}/v1/videos/{slow}", headers=AUTH).json()["status"] == "completed"
    simsrv.set_config(FAILURE_RATE=1)
    vid = create(http, simsrv, prompt="unlucky").json()["id"]
    simsrv.advance(10)
    err = http.get(f"{simsrv.url}/v1/videos/{vid}", headers=AUTH).json()["error"]
    assert err["code"] == "internal_error" and err["message"]


def test_new_api_profile(simsrv, http):
    """new-api: task_ ids, model required, no list or DELETE, a 400 for an unknown task
    (sunnchao/new-api@afe16c64: router/video-router.go, relay/relay_task.go)."""
    base = f"{simsrv.url}/newapi/v1/videos"
    missing = create(http, simsrv, "/newapi/v1")
    assert missing.status_code == 400 and missing.json()["error"]["type"] == "new_api_error"
    video = create(http, simsrv, "/newapi/v1", model="sora-2").json()
    assert video["id"].startswith("task_") and video["task_id"] == video["id"]
    assert len(video["id"]) == len("task_") + 32 and "prompt" not in video
    assert http.get(base, headers=AUTH).status_code == 404
    assert http.delete(f"{base}/{video['id']}", headers=AUTH).status_code == 404
    r = http.get(f"{base}/task_unknown", headers=AUTH)
    assert r.status_code == 400 and r.json() == {
        "code": "task_not_exist",
        "message": "task_not_exist",
        "data": None,
    }
    simsrv.advance(6)
    thumb = http.get(f"{base}/{video['id']}/content?variant=thumbnail", headers=AUTH)
    assert thumb.headers["Content-Type"] == "video/mp4"  # the variant is ignored
    assert http.get(base + "/x", headers={"Authorization": "Bearer sk-wrong"}).status_code == 401
    assert http.get(f"{base}/{video['id']}", headers={"Authorization": f"Bearer sk-{KEY}"}).ok


def test_litellm_profile(simsrv, http):
    """LiteLLM proxy: ids wrap the upstream id in base64, no DELETE (405), the list ignores
    its parameters and drops the prompt, errors carry the status as a string code."""
    import base64

    base = f"{simsrv.url}/litellm/v1/videos"
    video = create(http, simsrv, "/litellm/v1").json()
    inner = base64.b64decode(video["id"][len("video_") :]).decode()
    assert inner.startswith("litellm:custom_llm_provider:openai;") and "video_id:video_" in inner
    assert "prompt" not in video and video["usage"] is None
    assert http.delete(f"{base}/{video['id']}", headers=AUTH).status_code == 405
    listed = http.get(base, params={"limit": 1}, headers=AUTH).json()
    assert [v["id"] for v in listed["data"]] == [video["id"]] and "prompt" not in listed["data"][0]
    r = http.get(f"{base}/video_bm9wZQ==", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == "404"


def test_unknown_video_is_404(simsrv, http):
    r = http.get(f"{simsrv.url}/v1/videos/video_nope", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
