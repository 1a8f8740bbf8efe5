"""The fal queue shape under /fal: absolute status/response/cancel URLs on owner/app,
failures discovered on the result fetch, public expiring result files."""

from __future__ import annotations

from sim_helpers import KEY, assert_mp4, image_format

AUTH = {"Authorization": f"Key {KEY}"}
MODEL = "fal-ai/kling-video/v2.5-turbo/standard/image-to-video"


def submit(http, sim, model=MODEL, **body):
    body.setdefault("prompt", "A fox in snow")
    return http.post(f"{sim.url}/fal/{model}", json=body, headers=AUTH, timeout=10)


def test_happy_path_video(simsrv, http):
    r = submit(http, simsrv, duration="5", aspect_ratio="9:16")
    assert r.status_code == 200, r.text
    sub = r.json()
    rid = sub["request_id"]
    root = f"{simsrv.url}/fal/fal-ai/kling-video/requests/{rid}"  # owner/app only
    assert sub["status"] == "IN_QUEUE" and sub["queue_position"] == 0
    assert (sub["response_url"], sub["status_url"], sub["cancel_url"]) == (
        root,
        root + "/status",
        root + "/cancel",
    )
    r = http.get(sub["status_url"], headers=AUTH)
    assert r.status_code == 202 and r.json()["status"] == "IN_QUEUE"
    simsrv.advance(2)
    r = http.get(sub["status_url"] + "?logs=1", headers=AUTH)
    assert r.status_code == 202 and r.json()["status"] == "IN_PROGRESS" and r.json()["logs"]
    assert "progress" not in r.json()  # fal has no percentage
    assert http.get(sub["response_url"], headers=AUTH).status_code == 400  # still running
    simsrv.advance(4)
    r = http.get(sub["status_url"], headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "COMPLETED"
    assert r.json()["response_url"] == root and "inference_time" in r.json()["metrics"]
    video = http.get(sub["response_url"], headers=AUTH).json()["video"]
    assert video["content_type"] == "video/mp4" and video["file_name"].endswith(".mp4")
    assert video["url"].startswith(simsrv.url + "/files/")
    data = http.get(video["url"]).content  # CDN files are public
    assert_mp4(data)
    again = http.get(sub["response_url"], headers=AUTH).json()["video"]
    assert again["file_size"] == len(data)


def test_image_app_returns_images(simsrv, http):
    sub = submit(http, simsrv, model="fal-ai/flux/dev", prompt="a red cube").json()
    simsrv.advance(10)
    out = http.get(sub["response_url"], headers=AUTH).json()
    image = out["images"][0]
    assert image["content_type"] == "image/png"
    assert image_format(http.get(image["url"]).content) == "PNG"


def test_failure_shows_completed_then_fails_on_result(simsrv, http):
    sub = submit(http, simsrv, prompt="[fail] please").json()
    simsrv.advance(10)
    status = http.get(sub["status_url"], headers=AUTH).json()
    assert status["status"] == "COMPLETED" and status["error_type"] == "content_policy_violation"
    r = http.get(sub["response_url"], headers=AUTH)
    assert r.status_code == 422 and r.headers["X-Fal-Error-Type"] == "content_policy_violation"
    detail = r.json()["detail"][0]
    assert detail["type"] == "content_policy_violation" and detail["msg"] and detail["loc"]

    simsrv.set_config(FAILURE_RATE=1)
    sub = submit(http, simsrv, prompt="unlucky").json()
    simsrv.advance(10)
    r = http.get(sub["response_url"], headers=AUTH)
    assert r.status_code == 503 and r.json()["error_type"] == "runner_disconnected"
    assert r.headers["X-Fal-Error-Type"] == "runner_disconnected"


def test_cancel(simsrv, http):
    sub = submit(http, simsrv).json()
    r = http.put(sub["cancel_url"], headers=AUTH)
    assert r.status_code == 202 and r.json() == {"status": "CANCELLATION_REQUESTED"}
    assert http.get(sub["response_url"], headers=AUTH).status_code == 400
    done = submit(http, simsrv, prompt="finished").json()
    simsrv.advance(10)
    r = http.put(done["cancel_url"], headers=AUTH)
    assert r.status_code == 400 and r.json() == {"status": "ALREADY_COMPLETED"}
    missing = done["cancel_url"].replace(done["request_id"], "nope")
    assert http.put(missing, headers=AUTH).status_code == 404


def test_auth_and_validation(simsrv, http):
    for headers in ({}, {"Authorization": f"Bearer {KEY}"}, {"Authorization": "Key nope"}):
        r = http.post(f"{simsrv.url}/fal/{MODEL}", json={"prompt": "x"}, headers=headers)
        assert r.status_code == 401 and r.json() == {"detail": "Unauthorized"}
    r = http.post(f"{simsrv.url}/fal/{MODEL}", json={"duration": "5"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "prompt"]
    assert simsrv.stats()["created_total"] == 0
    r = http.get(f"{simsrv.url}/fal/fal-ai/x/requests/nope/status", headers=AUTH)
    assert r.status_code == 404


def test_result_files_expire(simsrv, http):
    sub = submit(http, simsrv).json()
    simsrv.advance(10)
    url = http.get(sub["response_url"], headers=AUTH).json()["video"]["url"]
    assert http.get(url).status_code == 200
    simsrv.advance(3601)
    assert http.get(url).status_code == 404
