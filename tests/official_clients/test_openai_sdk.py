"""The simulator's OpenAI Videos API (``/v1`` and ``/sora/v1``), driven by the official
``openai`` SDK (3.54.0).

Whenever this file and the simulator disagree, the simulator is wrong: the expected
behaviour is the real API's, as recorded in /work/research/openai_gateways.md (cited
below as "notes 1.x") and the sample payloads in /work/research/payloads/openai/oa_*.json.

Every Video body the simulator sends is validated strictly against the SDK's own
``openai.types.Video`` (the SDK itself parses leniently and would hide drift, notes 1.1),
and its key set must be exactly the fields ``Video`` declares (the real wire sends every
key, nullable ones as null: notes 1.1 and oa_create_queued.json).

The SDK's own requests/responses are observed with httpx2 event hooks on the SDK's own
``DefaultHttpxClient``; the calls themselves are ordinary SDK calls.
"""

from __future__ import annotations

import io
import json
import time

import openai
import pytest
from openai import DefaultHttpxClient, OpenAI
from openai.types import Video, VideoDeleteResponse
from PIL import Image

from webapp.simulator.server import SimulatorServer

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

KEY = "sim-key"
VIDEO_FIELDS = set(Video.model_fields)  # exactly what the SDK's Video declares
DELETE_FIELDS = set(VideoDeleteResponse.model_fields)
REAL_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")  # openai/types/video_size.py
REAL_SECONDS = ("4", "8", "12")  # openai/types/video_seconds.py


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sim():
    server = SimulatorServer({"API_KEY": KEY, "QUEUE_SECONDS": 0, "RUN_SECONDS": 1}).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh(sim):
    sim.reset()
    yield
    sim.reset()


class Wire:
    """What the SDK put on the wire and got back (httpx2 event hooks)."""

    def __init__(self):
        self.requests = []  # (method, path, headers, body-bytes)
        self.queries = []  # query parameters of each request
        self.responses = []  # (method, path, status, headers)

    def on_request(self, request):
        body = request.read()  # multipart bodies are streams; read() buffers them
        self.requests.append((request.method, request.url.path, dict(request.headers), body))
        self.queries.append(dict(request.url.params))

    def on_response(self, response):
        req = response.request
        self.responses.append(
            (req.method, req.url.path, response.status_code, dict(response.headers))
        )


@pytest.fixture
def wire():
    return Wire()


def make_client(sim, wire=None, prefix="/v1", key=KEY, **kw):
    hooks = {"request": [wire.on_request], "response": [wire.on_response]} if wire else None
    return OpenAI(
        base_url=f"{sim.url}{prefix}",
        api_key=key,
        http_client=DefaultHttpxClient(event_hooks=hooks) if hooks else None,
        **kw,
    )


@pytest.fixture
def client(sim, wire):
    c = make_client(sim, wire)
    yield c
    c.close()


# --------------------------------------------------------------------------- helpers


def strict_video(raw: dict, real_values: bool = True) -> Video:
    """The raw JSON must be exactly an SDK Video: strict types, no unknown keys, no
    missing keys (the wire sends every key, nullable ones as null). With real_values,
    ``seconds`` must also be one of VideoSeconds (the type admits any str; the real API
    only has "4", "8", "12")."""
    assert isinstance(raw, dict), raw
    unknown = set(raw) - VIDEO_FIELDS
    assert not unknown, f"fields the SDK's Video does not declare: {sorted(unknown)}"
    missing = VIDEO_FIELDS - set(raw)
    assert not missing, f"Video fields missing on the wire: {sorted(missing)}"
    video = Video.model_validate(raw, strict=True)
    assert video.size in REAL_SIZES
    if real_values:
        assert video.seconds in REAL_SECONDS
    return video


def raw_json(resp) -> dict:
    """Body of an SDK ``with_raw_response`` result."""
    return json.loads(resp.http_response.content)


def create_raw(client, **kw) -> tuple[Video, dict]:
    resp = client.videos.with_raw_response.create(**kw)
    raw = raw_json(resp)
    return strict_video(raw), raw


def retrieve_raw(client, video_id) -> tuple[Video, dict]:
    resp = client.videos.with_raw_response.retrieve(video_id)
    raw = raw_json(resp)
    return strict_video(raw), raw


def finish(sim, seconds=5):
    sim.advance(seconds)  # QUEUE_SECONDS 0, RUN_SECONDS 1: well past completion


def png_bytes(size=(720, 1280), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 60, 90)).save(buf, fmt)
    return buf.getvalue()


def assert_mp4(data: bytes):
    assert len(data) > 1000, len(data)
    assert data[4:8] == b"ftyp", data[:16]
    assert b"moov" in data and b"mdat" in data


def assert_webp(data: bytes):
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", data[:16]
    assert Image.open(io.BytesIO(data)).format == "WEBP"


def assert_jpeg(data: bytes):
    assert data[:3] == b"\xff\xd8\xff", data[:8]
    assert Image.open(io.BytesIO(data)).format == "JPEG"


# --------------------------------------------------------------------------- lifecycle


def test_create_is_multipart_and_returns_a_strict_queued_video(client, wire):
    video, raw = create_raw(
        client,
        prompt="A calico cat playing a piano on stage",
        model="sora-2",
        seconds="8",
        size="1280x720",
    )
    method, path, headers, _ = wire.requests[-1]
    assert (method, path) == ("POST", "/v1/videos")
    assert headers["content-type"].startswith("multipart/form-data")  # notes 1.2: always multipart
    assert video.id.startswith("video_")
    assert video.object == "video"
    assert (video.model, video.seconds, video.size) == ("sora-2", "8", "1280x720")
    assert video.status in ("queued", "in_progress")
    assert video.prompt == "A calico cat playing a piano on stage"
    assert raw["completed_at"] is None and raw["error"] is None and raw["expires_at"] is None
    assert raw["remixed_from_video_id"] is None
    assert abs(video.created_at - time.time()) < 60  # unix seconds, not ms


def test_defaults_when_fields_are_omitted(client, wire):
    video, _ = create_raw(client, prompt="A paper boat on a rainy street")
    sent = wire.requests[-1][3]
    for field in (b'name="model"', b'name="seconds"', b'name="size"'):
        assert field not in sent  # omitted fields are not sent (notes 1.2) ...
    # ... and the server applies the defaults sora-2 / "4" / 720x1280 (notes 1.2)
    assert (video.model, video.seconds, video.size) == ("sora-2", "4", "720x1280")


def test_full_life_retrieve_until_completed_then_download(client, sim):
    video, _ = create_raw(client, prompt="A lighthouse in a storm", seconds="4", size="720x1280")
    first, _ = retrieve_raw(client, video.id)
    assert first.status in ("queued", "in_progress")
    assert first.completed_at is None
    finish(sim)
    done, raw = retrieve_raw(client, video.id)
    assert done.status == "completed"
    assert done.progress == 100
    assert done.error is None
    assert isinstance(done.completed_at, int) and done.completed_at >= done.created_at
    assert isinstance(done.expires_at, int) and done.expires_at > done.completed_at
    assert (done.id, done.model, done.seconds, done.size) == (video.id, "sora-2", "4", "720x1280")
    assert_mp4(client.videos.download_content(video.id).content)


def test_retrieve_typed_result_matches_raw(client, sim):
    video = client.videos.create(prompt="typed call")
    finish(sim)
    got = client.videos.retrieve(video.id)
    assert isinstance(got, Video)
    assert got.status == "completed"
    assert got.model_extra in (None, {})  # nothing the SDK had to stash as an unknown field


def test_poll_without_hint_returns_completed_video(client, sim):
    video = client.videos.create(prompt="poll me")
    t0 = time.monotonic()
    done = client.videos.poll(video.id)
    assert done.status == "completed"
    assert time.monotonic() - t0 < 10


def test_poll_honours_openai_poll_after_ms(client, sim, wire):
    sim.set_config(POLL_AFTER_MS=50)
    video = client.videos.create(prompt="poll quickly")
    resp = client.videos.with_raw_response.retrieve(video.id)
    assert resp.http_response.headers.get("openai-poll-after-ms") == "50"
    before = len([r for r in wire.requests if r[0] == "GET"])
    done = client.videos.poll(video.id)
    assert done.status == "completed"
    polls = len([r for r in wire.requests if r[0] == "GET"]) - before
    # ~1 s of running at 50 ms per poll; the 1000 ms default would give 1-3 polls
    assert polls >= 5, polls
    assert all(r[2].get("x-stainless-poll-helper") == "true" for r in wire.requests[-polls:])


def test_create_and_poll(client, sim):
    sim.set_config(POLL_AFTER_MS=50)
    done = client.videos.create_and_poll(prompt="all in one", seconds="4")
    assert done.status == "completed"
    strict_video(done.model_dump(mode="json"))


def test_create_with_input_reference_file(client, sim, wire, tmp_path):
    ref = tmp_path / "sample_720p.jpeg"
    ref.write_bytes(png_bytes((720, 1280), "JPEG"))
    with ref.open("rb") as fh:  # the way the docs use it
        video, _ = create_raw(
            client, prompt="Animate this frame", input_reference=fh, size="720x1280"
        )
    body = wire.requests[-1][3]
    assert b'name="input_reference"; filename="sample_720p.jpeg"' in body
    assert video.status in ("queued", "in_progress")
    finish(sim)
    assert client.videos.retrieve(video.id).status == "completed"
    assert_mp4(client.videos.download_content(video.id).content)


def test_create_with_input_reference_tuple_png(client, sim, wire):
    video, _ = create_raw(
        client,
        prompt="Animate this PNG",
        input_reference=("ref.png", png_bytes((1280, 720)), "image/png"),
        size="1280x720",
    )
    assert b'filename="ref.png"' in wire.requests[-1][3]
    assert video.size == "1280x720"


@pytest.mark.parametrize(
    "variant,check",
    [("video", assert_mp4), ("thumbnail", assert_webp), ("spritesheet", assert_jpeg)],
)
def test_download_content_every_variant(client, sim, wire, variant, check):
    video = client.videos.create(prompt=f"variant {variant}", seconds="4")
    finish(sim)
    content = client.videos.download_content(video.id, variant=variant)
    method, path, headers, _ = wire.requests[-1]
    assert path == f"/v1/videos/{video.id}/content"
    assert headers["accept"] == "application/binary"  # notes 1.2
    check(content.content)


def test_download_default_variant_is_the_mp4(client, sim):
    video = client.videos.create(prompt="default variant")
    finish(sim)
    assert_mp4(client.videos.download_content(video.id).read())


# --------------------------------------------------------------------------- list


def test_list_pagination_after_limit_order(client, sim, wire):
    ids = [client.videos.create(prompt=f"clip {i}").id for i in range(5)]
    finish(sim)

    resp = client.videos.with_raw_response.list(limit=2, order="asc")
    raw = raw_json(resp)
    assert raw["object"] == "list"
    for item in raw["data"]:
        strict_video(item)
    assert [v["id"] for v in raw["data"]] == ids[:2]
    assert raw["has_more"] is True
    assert raw["last_id"] == ids[1]
    assert raw["first_id"] == ids[0]

    page = client.videos.list(limit=2, order="asc", after=ids[1])
    assert [v.id for v in page.data] == ids[2:4]
    assert page.has_more is True and page.last_id == ids[3]

    # SDK auto-pagination follows ?after=<last_id> until has_more is false (notes 1.3)
    wire.requests.clear()
    wire.queries.clear()
    seen = [v.id for v in client.videos.list(limit=2, order="asc")]
    assert seen == ids
    assert [q.get("after") for q in wire.queries] == [None, ids[1], ids[3]]

    desc = client.videos.list(limit=100, order="desc")
    assert [v.id for v in desc.data] == ids[::-1]
    assert desc.has_more is False

    tail = client.videos.list(limit=2, order="asc", after=ids[-1])
    assert tail.data == [] and tail.has_more is False


def test_list_default_order_is_newest_first(client, sim):
    ids = [client.videos.create(prompt=f"n{i}").id for i in range(3)]
    assert [v.id for v in client.videos.list().data] == ids[::-1]


# --------------------------------------------------------------------------- remix


def test_remix_makes_a_new_video_from_a_completed_one(client, sim, wire):
    src = client.videos.create(prompt="A calico cat playing a piano", seconds="8", size="1280x720")
    finish(sim)
    resp = client.videos.with_raw_response.remix(src.id, prompt="Same scene but at night")
    method, path, headers, body = wire.requests[-1]
    assert (method, path) == ("POST", f"/v1/videos/{src.id}/remix")
    assert headers["content-type"] == "application/json"  # notes 1.2: remix is JSON
    assert json.loads(body) == {"prompt": "Same scene but at night"}
    remix = strict_video(raw_json(resp))
    assert remix.id != src.id
    assert remix.remixed_from_video_id == src.id
    assert remix.prompt == "Same scene but at night"
    assert remix.status in ("queued", "in_progress")
    assert (remix.model, remix.seconds, remix.size) == ("sora-2", "8", "1280x720")
    finish(sim)
    done, _ = retrieve_raw(client, remix.id)
    assert done.status == "completed" and done.remixed_from_video_id == src.id
    assert_mp4(client.videos.download_content(remix.id).content)


def test_remix_unknown_video_is_not_found(client):
    with pytest.raises(openai.NotFoundError):
        client.videos.remix("video_does_not_exist", prompt="x")


# --------------------------------------------------------------------------- delete


def test_delete_returns_video_delete_response(client, sim, wire):
    video = client.videos.create(prompt="to be deleted")
    finish(sim)
    resp = client.videos.with_raw_response.delete(video.id)
    raw = raw_json(resp)
    assert set(raw) == DELETE_FIELDS, raw
    deleted = VideoDeleteResponse.model_validate(raw, strict=True)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    assert wire.requests[-1][0] == "DELETE"

    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    assert video.id not in [v.id for v in client.videos.list()]
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(video.id)


def test_delete_typed(client, sim):
    video = client.videos.create(prompt="typed delete")
    got = client.videos.delete(video.id)
    assert isinstance(got, VideoDeleteResponse)
    assert got.deleted is True and got.id == video.id


# --------------------------------------------------------------------------- errors


def test_bad_key_is_authentication_error_and_not_retried(sim, wire):
    bad = make_client(sim, wire, key="wrong-key")
    with pytest.raises(openai.AuthenticationError) as info:
        bad.videos.create(prompt="x")
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    assert len([r for r in wire.requests if r[0] == "POST"]) == 1  # 401 is not retried
    assert sim.ledger() == []


def test_unknown_video_is_not_found_error(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.videos.retrieve("video_does_not_exist")
    err = info.value
    assert err.status_code == 404
    assert isinstance(err.body, dict) and err.body.get("message")  # {"error": {...}} envelope
    assert err.message.startswith("Error code: 404 - ")


def test_download_unknown_video_is_not_found_error(client):
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content("video_does_not_exist")


@pytest.mark.parametrize("size", ["1024x1024", "1920x1080", "1080x1920", "640x480"])
def test_size_outside_video_size_is_bad_request(client, sim, size):
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="x", size=size)  # type: ignore[arg-type]
    assert info.value.param == "size"
    assert sim.ledger() == []


@pytest.mark.parametrize("seconds", ["6", "10", "15", "16", "20", "5"])
def test_seconds_outside_video_seconds_is_bad_request(client, sim, seconds):
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="x", seconds=seconds)  # type: ignore[arg-type]
    assert info.value.param == "seconds"
    assert sim.ledger() == []


@pytest.mark.parametrize("size", ["1024x1792", "1792x1024"])
def test_sora_2_refuses_pro_only_sizes(client, sim, size):
    """oa_error_400_bad_size.json: "Supported values for sora-2 are: '720x1280' and
    '1280x720'"; new-api mirrors the same per-model rule (notes 2.2)."""
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="x", model="sora-2", size=size)
    assert info.value.param == "size"


@pytest.mark.parametrize("size", REAL_SIZES)
def test_sora_2_pro_accepts_every_video_size(client, size):
    video, _ = create_raw(client, prompt="pro", model="sora-2-pro", size=size)
    assert (video.model, video.size) == ("sora-2-pro", size)


@pytest.mark.parametrize("seconds", REAL_SECONDS)
def test_every_video_seconds_is_accepted(client, seconds):
    video, _ = create_raw(client, prompt="len", seconds=seconds)
    assert video.seconds == seconds


def test_429_is_rate_limit_error_with_retry_after_ms(sim, wire):
    sim.add_faults(
        [{"op": "create", "kind": "429", "count": 1, "protocol": "openai", "retry_after": 1}]
    )
    no_retry = make_client(sim, wire, max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        no_retry.videos.create(prompt="x")
    headers = info.value.response.headers
    # oa_error_429_retry_after_ms.json; the simulator's own docstring promises it
    assert "retry-after-ms" in headers, dict(headers)
    assert float(headers["retry-after-ms"]) == pytest.approx(1000, abs=1)


def test_429_body_code_is_rate_limit_exceeded(sim):
    sim.add_faults(
        [{"op": "create", "kind": "429", "count": 1, "protocol": "openai", "retry_after": 1}]
    )
    no_retry = make_client(sim, max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        no_retry.videos.create(prompt="x")
    assert info.value.code == "rate_limit_exceeded"  # oa_error_429_retry_after_ms.json


def test_429_is_retried_by_the_sdk_and_succeeds(sim, wire):
    sim.add_faults(
        [{"op": "create", "kind": "429", "count": 2, "protocol": "openai", "retry_after": 1}]
    )
    c = make_client(sim, wire)  # default max_retries=2 (notes 1.5)
    t0 = time.monotonic()
    resp = c.videos.with_raw_response.create(prompt="eventually")
    elapsed = time.monotonic() - t0
    video = strict_video(raw_json(resp))
    posts = [r for r in wire.requests if r[0] == "POST"]
    assert [p[2]["x-stainless-retry-count"] for p in posts] == ["0", "1", "2"]
    statuses = [r[2] for r in wire.responses if r[0] == "POST"]
    assert statuses == [429, 429, 200]
    assert 1.5 <= elapsed < 10  # the SDK waited the advertised 1 s twice
    assert [j["id"] for j in sim.ledger()] == [video.id]  # a 429 created nothing
    # the delay it waited must have come from retry-after-ms (oa_error_429_retry_after_ms.json)
    assert all("retry-after-ms" in r[3] for r in wire.responses if r[2] == 429)


def test_5xx_is_retried_by_the_sdk_and_succeeds(sim, wire):
    sim.add_faults([{"op": "status", "kind": "503", "count": 1, "protocol": "openai"}])
    c = make_client(sim, wire)
    video = c.videos.create(prompt="flaky status")
    got = c.videos.retrieve(video.id)
    assert got.id == video.id
    assert [r[2] for r in wire.responses if r[0] == "GET"] == [503, 200]


def test_failed_video(client, sim):
    video = client.videos.create(prompt="[fail] something the filter blocks")
    finish(sim)
    failed, raw = retrieve_raw(client, video.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert isinstance(raw["error"]["code"], str) and raw["error"]["code"]
    assert isinstance(raw["error"]["message"], str) and raw["error"]["message"]
    assert isinstance(failed.completed_at, int) and failed.completed_at >= failed.created_at
    assert failed.expires_at is None  # oa_retrieve_failed.json: no downloadable assets
    # poll() returns a failed video, it does not raise (notes 1.4)
    assert client.videos.poll(video.id).status == "failed"


# --------------------------------------------------------------------------- /sora/v1
# notes 4: real "/sora/v1" relays are chat-completions wrappers, so there is no real
# /sora/v1/videos to compare with; the arbiter here is the SDK pointed at that base_url.


@pytest.fixture
def sora(sim):
    w = Wire()
    c = make_client(sim, w, prefix="/sora/v1")
    c.wire = w
    yield c
    c.close()


def test_sora_v1_lifecycle_with_sdk_defaults(sim, sora):
    resp = sora.videos.with_raw_response.create(prompt="via the sora prefix")
    assert sora.wire.requests[-1][1] == "/sora/v1/videos"
    video = strict_video(raw_json(resp), real_values=False)  # the SDK's type, strictly
    assert video.status in ("queued", "in_progress")
    finish(sim)
    done = strict_video(
        raw_json(sora.videos.with_raw_response.retrieve(video.id)), real_values=False
    )
    assert done.status == "completed" and done.id == video.id
    assert_mp4(sora.videos.download_content(video.id).content)
    with pytest.raises(openai.NotFoundError):
        sora.videos.retrieve("video_does_not_exist")
    with pytest.raises(openai.AuthenticationError):
        make_client(sim, prefix="/sora/v1", key="nope").videos.retrieve(video.id)


def test_sora_v1_default_seconds_is_the_relays_ten(sora):
    """The relay profile models the Sora relay the replaced backend used (duration 10 by
    default, seed notes); ``Video.seconds`` is ``str | VideoSeconds``, so the SDK's own
    type still takes it, strictly."""
    video = strict_video(
        raw_json(sora.videos.with_raw_response.create(prompt="defaults")), real_values=False
    )
    assert video.seconds == "10"


@pytest.mark.parametrize("seconds", REAL_SECONDS)
def test_sora_v1_accepts_the_sdks_video_seconds(sora, seconds):
    """``Videos.create(seconds: VideoSeconds)``: "4" | "8" | "12" is all the SDK can send."""
    video = strict_video(
        raw_json(sora.videos.with_raw_response.create(prompt="len", seconds=seconds)),
        real_values=False,
    )
    assert video.seconds == seconds
