"""Reelay's own /v1 API, driven by the official ``openai`` SDK: every answer validates
strictly against the SDK's own types with exactly their fields, the defaults are the
ones the SDK documents, the model is echoed as asked, image tasks are not videos."""

from __future__ import annotations

import io
import json

import httpx
import openai
import pytest
from openai.types import Video, VideoDeleteResponse
from PIL import Image

from webapp.extensions import db
from webapp.models import User
from webapp.services import accounts, poller, tasks

from ..browser_support import LiveServer
from ..lifecycle_support import make_due

VIDEO_FIELDS = set(Video.model_fields)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def reelay(sim_app, backend):
    if backend != "sqlite":
        pytest.skip("the SDK round trip runs once, on SQLite")
    with sim_app.app_context():
        user = accounts.register("sdk@example.com", "correct horse")
        token = accounts.create_token(user, "sdk")[1]
        uid = user.id
    raw: list[dict] = []

    def keep(response: httpx.Response):
        response.read()
        if response.headers.get("content-type", "").startswith("application/json"):
            raw.append(json.loads(response.content))

    with LiveServer(sim_app) as live:
        http = httpx.Client(event_hooks={"response": [keep]})
        client = openai.OpenAI(
            base_url=f"{live.url}/v1", api_key=token, http_client=http, max_retries=0
        )
        yield client, raw, sim_app, uid
        client.close()


def strict(body: dict) -> Video:
    assert set(body) == VIDEO_FIELDS, set(body) ^ VIDEO_FIELDS
    return Video.model_validate(body, strict=True)


def finish(app, sim, video_id, rounds=20):
    for _ in range(rounds):
        sim.advance(5)
        make_due(app)
        poller.run_once(app)
        with app.app_context():
            task = tasks.get_by_video_id(video_id)
            if task.is_terminal and not task.pending_action:
                return


def test_every_answer_is_the_sdks_video_and_defaults_are_the_sdks(reelay, sim):
    client, raw, app, _uid = reelay
    video = client.videos.create(prompt="a lighthouse, defaults only")
    body = strict(raw[-1])
    assert (body.model, body.seconds, body.size) == ("sora-2", "4", "720x1280")
    assert video.status in ("queued", "in_progress")
    finish(app, sim, video.id)
    done = client.videos.retrieve(video.id)
    strict(raw[-1])
    assert done.status == "completed" and done.progress == 100 and done.completed_at
    assert done.model == "sora-2"  # echoed as asked, not Reelay's own name
    for variant, magic in (
        ("video", b"ftyp"),
        ("thumbnail", b"WEBP"),
        ("spritesheet", b"\xff\xd8"),
    ):
        data = client.videos.download_content(video.id, variant=variant).content
        assert magic in data[:16], variant


def test_the_model_is_echoed_as_the_client_named_it(reelay, sim):
    client, raw, _app, _uid = reelay
    client.videos.create(
        prompt="by Reelay's name", model="sora_video2", seconds="8", size="1280x720"
    )
    assert strict(raw[-1]).model == "sora_video2"
    client.videos.create(prompt="by upstream name", model="sora-2", seconds="12", size="720x1280")
    assert (strict(raw[-1]).model, raw[-1]["seconds"]) == ("sora-2", "12")


def test_input_reference_upload(reelay, sim):
    client, raw, _app, _uid = reelay
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), "teal").save(buf, "PNG")
    client.videos.create(
        prompt="from a picture", input_reference=("ref.png", buf.getvalue(), "image/png")
    )
    strict(raw[-1])


def test_list_pages_are_strict_and_hold_no_images(reelay, sim):
    client, raw, app, uid = reelay
    ids = [client.videos.create(prompt=f"clip {i}").id for i in range(3)]
    with app.app_context():
        image, _ = tasks.create(
            db.session.get(User, uid),
            tasks.NewTask(prompt="a still", model="gemini-2.5-flash-imagen"),
        )
        image_id = image.video_id
    page = client.videos.list(limit=2)
    listing = raw[-1]
    assert set(listing) == {"object", "data", "first_id", "last_id", "has_more"}
    for item in listing["data"]:
        strict(item)
    seen = [v.id for v in page]  # iterating follows the cursor (after=last_id)
    assert seen[:3] == ids[::-1] and image_id not in seen
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(image_id)  # an image is not a video


def test_remix_delete_and_a_failed_video(reelay, sim):
    client, raw, app, _uid = reelay
    source = client.videos.create(prompt="a boat", seconds="8", size="1280x720")
    finish(app, sim, source.id)
    remix = client.videos.remix(source.id, prompt="the boat at night")
    body = strict(raw[-1])
    assert body.remixed_from_video_id == source.id and remix.id != source.id
    deleted = client.videos.delete(remix.id)
    assert set(raw[-1]) == set(VideoDeleteResponse.model_fields)
    VideoDeleteResponse.model_validate(raw[-1], strict=True)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(remix.id)
    failed = client.videos.create(prompt="[fail] not allowed")
    finish(app, sim, failed.id)
    gone = client.videos.retrieve(failed.id)
    body = strict(raw[-1])
    assert gone.status == "failed" and body.completed_at and body.error and body.error.code


def test_errors_are_the_sdks_errors(reelay, sim):
    client, raw, _app, _uid = reelay
    with pytest.raises(openai.NotFoundError) as info:
        client.videos.retrieve("video_" + "0" * 32)
    assert set(raw[-1]["error"]) == {"message", "type", "param", "code"}
    assert info.value.code == "video_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="too long", seconds="20")
    assert info.value.param == "seconds"
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="odd size", size="1920x1080")
    assert info.value.param == "size"
    bad = openai.OpenAI(base_url=str(client.base_url), api_key="rly_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.videos.list()
