"""The JSON APIs: the replaced backend's routes and the OpenAI Videos API."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from sqlalchemy import select

from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import Provider, SubmitAttempt, User, VideoTask
from webapp.services import accounts, poller

from . import factories
from .lifecycle_support import finish


def token_for(app, email="ada@example.com") -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = accounts.register(email, "correct horse")
        return accounts.create_token(user, "test")[1]


def H(token):
    return {"Authorization": f"Bearer {token}"}


def png_data_url():
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 90, 200)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


# ---- auth & envelope ---------------------------------------------------------------------


def test_register_and_login_return_tokens(client):
    r = client.post(
        "/api/auth/register", json={"email": "api@example.com", "password": "correct horse"}
    )
    assert r.status_code == 201 and r.json["success"] is True
    token = r.json["data"]["token"]
    assert client.get("/api/video/stats", headers=H(token)).json["data"]["total"] == 0
    r = client.post("/api/auth/login", json={"email": "api@example.com", "password": "nope nope"})
    assert r.status_code == 401 and r.json == {
        "success": False,
        "message": "Wrong email or password.",
        "code": "invalid_credentials",
    }
    r = client.post(
        "/api/auth/register", json={"email": "api@example.com", "password": "correct horse"}
    )
    assert r.status_code == 422 and r.json["code"] == "email_taken" and "email" in r.json["errors"]


def test_missing_or_revoked_token(app, client):
    assert client.get("/api/video/tasks").json["code"] == "unauthorized"
    assert client.get("/v1/videos").json["error"]["type"] == "authentication_error"
    token = token_for(app)
    with app.app_context():
        from webapp.models import ApiToken

        row = db.session.scalar(select(ApiToken))
        accounts.revoke_token(row.user, row.id)
    assert client.get("/api/video/tasks", headers=H(token)).status_code == 401


def test_not_json_gets_a_stable_code(app, client):
    token = token_for(app)
    r = client.post("/api/video/tasks", data="prompt=x", headers=H(token))
    assert r.status_code == 422 and r.json["code"] == "invalid_json"


def test_body_size_cap(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    token = token_for(app)
    r = app.test_client().post("/api/video/tasks", json={"prompt": "x" * 5000}, headers=H(token))
    assert r.status_code == 413 and r.json["code"] == "payload_too_large"


def test_per_token_rate_limit(make_app):
    app = make_app(API_RATE_LIMIT="3 per minute")
    token = token_for(app)
    client = app.test_client()
    codes = [client.get("/api/video/stats", headers=H(token)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/video/stats", headers=H(token))
    assert r.json["code"] == "rate_limited" and "Retry-After" in r.headers
    other = token_for(app, "bob@example.com")
    ok = client.get("/api/video/stats", headers=H(other))
    assert ok.status_code == 200 and "Retry-After" not in ok.headers  # only on a 429
    assert 1 <= int(r.headers["Retry-After"]) <= 61


def test_guessed_tokens_are_rate_limited_per_address(make_app):
    """Each made-up token must not get a fresh bucket: they all count for the address."""
    app = make_app(API_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [client.get("/v1/videos", headers=H(f"rly_guess_{i}")).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]


# ---- reads, ownership ------------------------------------------------------------------------


def test_reads_and_ownership(app, client):
    mine = token_for(app)
    theirs = token_for(app, "bob@example.com")
    with app.app_context():
        ada = db.session.scalar(select(User.id).where(User.email == "ada@example.com"))
    vid = factories.task(app, ada, status=st.COMPLETED, external_task_id="video_ext_1")
    r = client.get(f"/api/video/tasks/{vid}", headers=H(mine))
    data = r.json["data"]
    assert data["videoId"] == vid and data["metadata"]["externalTaskId"] == "video_ext_1"
    assert (
        data["status"] == "COMPLETED"
        and "/content?" in data["videoUrl"]
        and "sig=" in data["videoUrl"]
    )
    for path in (
        f"/api/video/tasks/{vid}",
        f"/api/video/tasks/{vid}/content",
        f"/api/relay/sora/videos/{vid}",
        f"/v1/videos/query/{vid}",
    ):
        assert client.get(path, headers=H(theirs)).status_code == 404, path
    assert client.post(f"/api/video/tasks/{vid}/cancel", headers=H(theirs)).status_code == 404
    assert (
        client.post(
            f"/api/video/tasks/{vid}/remix", json={"prompt": "x"}, headers=H(theirs)
        ).status_code
        == 404
    )
    assert (
        client.get(f"/v1/videos/{vid}", headers=H(theirs)).json["error"]["code"]
        == "video_not_found"
    )
    assert client.get(f"/v1/videos/{vid}/content", headers=H(theirs)).status_code == 404
    assert client.delete(f"/v1/videos/{vid}", headers=H(theirs)).status_code == 404
    q = client.post("/v1/videos/query", json={"video_id": vid}, headers=H(mine)).json
    assert q["task_status"] == "success" and q["video_id"] == vid and q["task_id"] == "video_ext_1"


def test_list_with_paging_and_filters(app, client):
    token = token_for(app)
    with app.app_context():
        ada = db.session.scalar(select(User.id).where(User.email == "ada@example.com"))
    for i in range(25):
        factories.task(app, ada, status=st.FAILED if i % 5 == 0 else st.COMPLETED, minutes_ago=i)
    r = client.get("/api/video/tasks?page=2&pageSize=10", headers=H(token)).json["data"]
    assert r["total"] == 25 and r["page"] == 2 and r["pageSize"] == 10 and len(r["tasks"]) == 10
    r = client.get("/api/video/tasks?status=FAILED", headers=H(token)).json["data"]
    assert r["total"] == 5
    stats = client.get("/api/video/stats", headers=H(token)).json["data"]
    assert stats == {
        "total": 25,
        "completed": 20,
        "failed": 5,
        "processing": 0,
        "queued": 0,
        "cancelled": 0,
    }
    # OpenAI-style cursor list
    page1 = client.get("/v1/videos?limit=10", headers=H(token)).json
    assert page1["object"] == "list" and page1["has_more"] and len(page1["data"]) == 10
    page2 = client.get(f"/v1/videos?limit=10&after={page1['last_id']}", headers=H(token)).json
    assert not {v["id"] for v in page1["data"]} & {v["id"] for v in page2["data"]}
    page3 = client.get(f"/v1/videos?limit=10&after={page2['last_id']}", headers=H(token)).json
    assert len(page3["data"]) == 5 and page3["has_more"] is False
    for limit in ("500", "0", "abc", "-1", "1.5"):
        bad = client.get(f"/v1/videos?limit={limit}", headers=H(token))
        assert bad.status_code == 400 and bad.json["error"]["param"] == "limit", limit
        assert bad.json["error"]["code"] == "invalid_limit"


def test_compat_list_pages_past_the_end_and_sorts_unfinished_last(app, client):
    """A client paging until it gets no tasks must stop; sorting by completion keeps the
    total (unfinished tasks come last instead of vanishing)."""
    token = token_for(app)
    with app.app_context():
        ada = db.session.scalar(select(User.id).where(User.email == "ada@example.com"))
    for i in range(3):
        factories.task(app, ada, status=st.COMPLETED, minutes_ago=i)
    for i in range(2):
        factories.task(app, ada, status=st.PROCESSING, minutes_ago=10 + i)
    r = client.get("/api/video/tasks?page=99&pageSize=2", headers=H(token)).json["data"]
    assert r["page"] == 99 and r["tasks"] == [] and r["total"] == 5
    r = client.get("/api/video/tasks?orderBy=completedAt&pageSize=10", headers=H(token)).json
    statuses = [t["status"] for t in r["data"]["tasks"]]
    assert r["data"]["total"] == 5 and statuses[-2:] == ["PROCESSING", "PROCESSING"]


def test_openapi_document_lists_every_route(client):
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/video/tasks",
        "/api/video/tasks/{video_id}",
        "/v1/videos",
        "/v1/videos/{video_id}/content",
        "/v1/videos/query",
        "/api/relay/sora/videos",
        "/api/video/mapping",
        "/api/auth/login",
    ):
        assert path in doc["paths"], path


# ---- against the simulator ---------------------------------------------------------------------


def test_create_validation_errors_name_the_field(sim_app):
    client = sim_app.test_client()
    token = token_for(sim_app)
    r = client.post("/api/video/tasks", json={"model": "sora_video2"}, headers=H(token))
    assert (
        r.status_code == 422
        and r.json["code"] == "prompt_required"
        and "prompt" in r.json["errors"]
    )
    r = client.post("/api/video/tasks", json={"prompt": "x", "model": "nope"}, headers=H(token))
    assert r.json["code"] == "unknown_model"
    r = client.post(
        "/api/video/tasks",
        json={
            "prompt": "x",
            "model": "sora_video2",
            "referenceImage": "data:image/png;base64,AAAA",
        },
        headers=H(token),
    )
    assert r.json["code"] == "invalid_image"
    r = client.post(
        "/api/video/tasks", json={"prompt": ["x"], "model": "sora_video2"}, headers=H(token)
    )
    assert r.json["code"] == "invalid_type"
    r = client.post("/v1/videos", json={"prompt": "x", "seconds": "7"}, headers=H(token))
    assert r.status_code == 400 and r.json["error"]["param"] == "seconds"
    # every error names the field as the request spelled it
    base = {"prompt": "x", "model": "sora_video2"}
    for extra, field in (
        ({"duration": 7}, "duration"),
        ({"aspectRatio": "4:3"}, "aspectRatio"),
        ({"referenceImage": "data:image/png;base64,AAAA"}, "referenceImage"),
        ({"apiConfigId": 99}, "apiConfigId"),
        ({"apiConfigId": True}, "apiConfigId"),
        ({"apiConfigId": 1.5}, "apiConfigId"),
    ):
        r = client.post("/api/video/tasks", json={**base, **extra}, headers=H(token))
        assert r.status_code == 422 and list(r.json["errors"]) == [field], extra
    r = client.post(
        "/v1/videos",
        data={"prompt": "x", "input_reference": (io.BytesIO(b"not an image"), "x.png")},
        headers=H(token),
    )
    assert r.status_code == 400 and r.json["error"]["param"] == "input_reference"
    r = client.post(
        "/api/relay/sora/videos",
        data={
            "prompt": "x",
            "model": "sora_video2",
            "input_reference": (io.BytesIO(b"no"), "x.png"),
        },
        headers=H(token),
    )
    assert r.status_code == 422 and list(r.json["errors"]) == ["input_reference"]
    with sim_app.app_context():
        assert db.session.query(VideoTask).count() == 0


def test_compat_create_submits_and_idempotency(sim_app, sim):
    client = sim_app.test_client()
    token = token_for(sim_app)
    body = {
        "prompt": "a kite over dunes",
        "model": "sora_video2-portrait",
        "duration": 8,
        "referenceImage": png_data_url(),
    }
    r1 = client.post("/api/video/tasks", json=body, headers={**H(token), "Idempotency-Key": "abc"})
    r2 = client.post("/api/video/tasks", json=body, headers={**H(token), "Idempotency-Key": "abc"})
    assert r1.status_code == 201 and r2.status_code == 200
    d = r1.json["data"]
    assert d["videoId"] == r2.json["data"]["videoId"]
    assert (
        d["status"] == "PROCESSING" and d["metadata"]["externalTaskId"] and d["size"] == "720x1280"
    )
    assert sim.stats()["created_total"] == 1
    r3 = client.post(
        "/api/video/tasks",
        json={**body, "prompt": "other"},
        headers={**H(token), "Idempotency-Key": "abc"},
    )
    assert r3.status_code == 422 and r3.json["code"] == "idempotency_key_reused"


def test_relay_multipart_and_mapping(sim_app, sim):
    client = sim_app.test_client()
    token = token_for(sim_app)
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "JPEG")
    r = client.post(
        "/api/relay/sora/videos",
        data={
            "prompt": "a snail racing",
            "model": "sora_video2",
            "seconds": "4",
            "input_reference": (io.BytesIO(buf.getvalue()), "ref.jpg"),
        },
        headers=H(token),
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.json
    d = r.json["data"]
    assert d["status"] == "processing" and d["externalTaskId"] and d["progress"] == 0
    big = io.BytesIO(b"\xff\xd8" + b"0" * (11 * 1024 * 1024))
    r = client.post(
        "/api/relay/sora/videos",
        data={"prompt": "x", "model": "sora_video2", "input_reference": (big, "big.jpg")},
        headers=H(token),
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and r.json["code"] == "image_too_large"
    with sim_app.app_context():
        pid = db.session.scalar(select(Provider.id).where(Provider.kind == "openai"))
    import requests

    ext = requests.post(
        f"{sim.url}/v1/videos",
        json={"prompt": "external", "model": "sora-2"},
        headers={"Authorization": "Bearer sim-key"},
        timeout=5,
    ).json()["id"]
    r = client.post(
        "/api/video/mapping",
        json={"externalTaskId": ext, "apiConfigId": pid, "model": "sora_video2"},
        headers=H(token),
    )
    assert r.status_code == 201 and r.json["data"]["metadata"]["externalTaskId"] == ext
    r = client.post(
        "/api/video/mapping", json={"externalTaskId": "", "apiConfigId": 999}, headers=H(token)
    )
    assert r.status_code == 422 and set(r.json["errors"]) == {"externalTaskId", "apiConfigId"}
    for sneaky in ("../../admin/secret?x=", "a/../../b", "id with space", "x#frag", "%2e%2e"):
        r = client.post(
            "/api/video/mapping",
            json={"externalTaskId": sneaky, "apiConfigId": pid},
            headers=H(token),
        )
        assert r.status_code == 422 and "externalTaskId" in r.json["errors"], sneaky
    for bad in (2**70, True, "12abc", -1):
        r = client.post(
            "/api/video/mapping",
            json={"externalTaskId": ext, "apiConfigId": bad},
            headers=H(token),
        )
        assert r.status_code == 422 and "apiConfigId" in r.json["errors"], bad


def test_cancel_remix_refresh_via_compat(sim_app, sim):
    client = sim_app.test_client()
    token = token_for(sim_app)
    vid = client.post(
        "/api/video/tasks", json={"prompt": "a comet", "model": "sora_video2"}, headers=H(token)
    ).json["data"]["videoId"]
    r = client.post(f"/api/video/tasks/{vid}/remix", json={"prompt": "again"}, headers=H(token))
    assert r.status_code == 409 and r.json["code"] == "not_completed"
    finish(sim_app, sim, vid)
    r = client.post(f"/api/video/tasks/{vid}/refresh-url", headers=H(token)).json["data"]
    assert r["status"] == "COMPLETED" and r["refreshedAt"] and "sig=" in r["videoUrl"]
    url = r["videoUrl"].replace("http://localhost", "")
    fresh = sim_app.test_client()  # no session: the signed link alone opens it
    got = fresh.get(url)
    assert got.status_code == 200 and got.data[4:8] == b"ftyp"
    assert fresh.get(url.replace("variant=video", "variant=thumbnail")).status_code in (302, 401)
    r = client.post(
        f"/api/video/tasks/{vid}/remix", json={"prompt": "the comet, in daylight"}, headers=H(token)
    )
    assert r.status_code == 201 and r.json["data"]["metadata"]["remix_from"] == vid
    rid = r.json["data"]["videoId"]
    r = client.post(f"/api/video/tasks/{rid}/cancel", headers=H(token))
    assert r.json["data"]["status"] == "CANCELLED"
    assert (
        client.post(f"/api/video/tasks/{rid}/cancel", headers=H(token)).json["code"]
        == "already_finished"
    )


def test_openai_sdk_end_to_end(sim_app, sim):
    openai = pytest.importorskip("openai")
    from .browser_support import LiveServer

    token = token_for(sim_app)
    with LiveServer(sim_app) as live:
        client = openai.OpenAI(base_url=live.url + "/v1", api_key=token, max_retries=0)
        video = client.videos.create(
            prompt="an origami crane unfolding",
            model="sora-2",
            seconds="4",
            size="1280x720",
            extra_headers={"Idempotency-Key": "sdk-1"},
        )
        again = client.videos.create(
            prompt="an origami crane unfolding",
            model="sora-2",
            seconds="4",
            size="1280x720",
            extra_headers={"Idempotency-Key": "sdk-1"},
        )
        assert video.id == again.id and video.status == "in_progress" and video.object == "video"
        finish(sim_app, sim, video.id)
        got = client.videos.retrieve(video.id)
        assert got.status == "completed" and got.progress == 100
        page = client.videos.list(limit=10)
        assert [v.id for v in page.data] == [video.id]
        content = client.videos.download_content(video.id, variant="video")
        assert content.read()[4:8] == b"ftyp"
        thumb = client.videos.download_content(video.id, variant="thumbnail")
        assert thumb.read()[:4] == b"RIFF"
        remix = client.videos.remix(video.id, prompt="the crane flies away")
        assert remix.remixed_from_video_id == video.id
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve("video_" + "0" * 32)
        with pytest.raises(openai.BadRequestError):
            client.videos.create(prompt="", model="sora-2")
        deleted = client.videos.delete(remix.id)
        assert deleted.deleted is True
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(remix.id)
    assert (
        sim.stats()["created_total"] == 2
    )  # the first video and its remix; the retry was not resent


def test_deleting_a_running_video_stops_it_upstream(sim_app, sim):
    """The video is gone for the caller at once; its upstream job is stopped inside the
    request when the provider answers, else by the poller's sweep until it does."""
    client = sim_app.test_client()
    token = token_for(sim_app)
    vid = client.post(
        "/v1/videos", json={"prompt": "a slow comet", "model": "sora_video2"}, headers=H(token)
    ).json["id"]
    with sim_app.app_context():
        job = db.session.scalar(select(VideoTask.external_task_id).where(VideoTask.video_id == vid))
    sim.add_faults([{"op": "delete", "kind": "503", "count": 2}])
    r = client.delete(f"/v1/videos/{vid}", headers=H(token))
    assert r.status_code == 200 and r.json == {
        "id": vid,
        "object": "video.deleted",
        "deleted": True,
    }
    assert client.get(f"/v1/videos/{vid}", headers=H(token)).status_code == 404
    assert sim.state.jobs[job].deleted is False  # the provider was down: not yet
    for _ in range(3):
        with sim_app.app_context():
            db.session.execute(
                SubmitAttempt.__table__.update().values(cleanup_after=None)
            )  # skip the sweep's back-off
            db.session.commit()
        poller.run_once(sim_app)
    assert sim.state.jobs[job].deleted is True
    with sim_app.app_context():
        ledger = db.session.scalar(select(SubmitAttempt).where(SubmitAttempt.external_id == job))
        assert ledger.task_id is None and ledger.cleanup == "deleted"
    assert sim.stats()["requests"]["delete"] == 3
    assert sim.stats()["created_total"] == 1


def test_a_model_only_a_keyless_provider_offers_says_why(app, client, monkeypatch):
    """Not "not offered by an enabled provider" (it is enabled): its key is missing."""
    monkeypatch.delenv("KEYLESS_GATEWAY_KEY", raising=False)
    factories.provider(
        app,
        key_env="KEYLESS_GATEWAY_KEY",
        model_map={"sora_keyless": {"upstream": "sora-2", "size": "1280x720", "seconds": 8}},
    )
    token = token_for(app)
    r = client.post("/v1/videos", json={"prompt": "p", "model": "sora_keyless"}, headers=H(token))
    body = r.get_json()["error"]
    assert r.status_code == 400 and body["code"] == "model_unavailable"
    assert (
        "API key is not set on the server" in body["message"] and "KEYLESS" not in body["message"]
    )
    r = client.post("/v1/videos", json={"prompt": "p", "model": "nobody_has_it"}, headers=H(token))
    assert r.get_json()["error"]["code"] in ("unknown_model", "model_not_found")
