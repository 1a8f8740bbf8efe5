"""Every recorded payload of ``payloads/<protocol>/`` through its protocol's adapter.

The payloads are the truth: each is a real upstream answer (or a request as the official
client sends it), transcribed from the source it names. ``EXPECT`` says, for every file, how
it reaches the adapter (``call``) and what the adapter must make of it:

- ``Status``: a job object. The adapter's parser, and the adapter serving it over
  ``responses``, give the normalized state, progress, a short safe error text, expiry, cost,
  the result URL, and (``download``) the bytes a download yields.
- ``Raises``: an error answer. The adapter raises exactly this typed error, with a short
  safe message (never the raw body, never the key) and the upstream's retry hint.
- ``Check``: anything else (lists, deletes, model lists, requests, tokens).

A payload file without an entry fails ``test_every_payload_has_an_expectation``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, quote

import pytest
from responses import matchers

from webapp.domain.reconcile import echo_of
from webapp.providers import base as pb
from webapp.providers.base import Job
from webapp.providers.http import seg, utcnow
from webapp.providers.openai_videos import parse_task_dto, parse_video
from webapp.providers.openrouter import parse_job
from webapp.providers.replicate import parse_prediction
from webapp.providers.vertex import first_video, parse_operation

from .conftest import (
    FAL,
    GEMINI,
    GEMINI_HOST,
    GW,
    KEY,
    MP4,
    OPENROUTER,
    OPENROUTER_HOST,
    REPLICATE,
    SA_EMAIL,
    STORAGE,
    TOKEN_URI,
    VERTEX,
    VERTEX_EXTRA,
    VERTEX_HOST,
    load_payload,
    payload_names,
    serve,
    ts,
)

FILES = payload_names()
MAX_ERROR = 160  # ProviderError.message (http.MAX_MESSAGE)
MAX_FAILURE = 200  # UpstreamStatus.error_message


# ---- expectations -----------------------------------------------------------------------


class _Any:
    """Whatever the adapter says (unittest.mock.ANY, but hashable for frozen dataclasses)."""

    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0

    def __repr__(self):
        return "<any>"


ANY = _Any()


@dataclass(frozen=True)
class Status:
    call: str
    state: str
    progress: object = ANY
    error_code: object = ANY
    message: object = ANY  # str: part of error_message; ANY: a reason iff FAILED; None: none
    expires_at: object = ANY
    video_url: object = ANY  # result_urls.get("video")
    cost: object = ANY
    raw_status: object = ANY
    poll_after: object = ANY
    queue_position: object = ANY
    download: object = None  # bytes a download yields, or the error class it raises


@dataclass(frozen=True)
class Raises:
    call: str
    error: type
    message: str | None = None  # part of the (short, safe) message
    retry_after: object = ANY


@dataclass(frozen=True)
class Check:
    call: str
    check: Callable  # check(ctx, what the call returned)


class Contains:
    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, str) and self.text in other

    def __repr__(self):
        return f"<text containing {self.text!r}>"


class Reason:
    def __eq__(self, other):
        return isinstance(other, str) and bool(other.strip())

    def __repr__(self):
        return "<a failure reason>"


class Soon:
    """A naive UTC datetime about ``delta`` from now."""

    def __init__(self, delta: timedelta):
        self.delta = delta

    def __eq__(self, other):
        return isinstance(other, datetime) and abs(other - (utcnow() + self.delta)) < timedelta(
            minutes=1
        )

    def __repr__(self):
        return f"<now + {self.delta}>"


def assert_safe(text: str, body, limit: int) -> None:
    """A message fit for a task page: short, one line, no key, no raw upstream body."""
    assert text and text.strip(), "no message at all"
    assert len(text) <= limit, f"{len(text)} characters: {text!r}"
    assert KEY not in text and "TOPSECRET" not in text
    assert "\n" not in text
    assert "{" not in text and "}" not in text, f"raw upstream JSON in the message: {text!r}"
    if body is not None:
        assert json.dumps(body) not in text


FIELDS = ("state", "progress", "error_code", "error_message", "result_urls", "raw_status")
FIELDS += ("queue_position", "cost")


def agree(served: pb.UpstreamStatus, parsed: pb.UpstreamStatus) -> pb.UpstreamStatus:
    """The adapter's call and its parser, fed the same payload, say the same."""
    for name in FIELDS:
        assert getattr(served, name) == getattr(parsed, name), name
    if served.expires_at is None or parsed.expires_at is None:
        assert served.expires_at == parsed.expires_at
    else:
        assert abs(served.expires_at - parsed.expires_at) < timedelta(seconds=5)
    return served


# ---- the context a payload is fed in ----------------------------------------------------


class Ctx:
    def __init__(self, name: str, rsps, make, tmp_path):
        self.name = name
        self.protocol, filename = name.split("/")
        self.stem = filename.removesuffix(".json")
        self.payload = load_payload(name)
        self.body = self.payload["body"]
        self.rsps = rsps
        self.make = make
        self.tmp_path = tmp_path
        self.key_file = None
        self.adapter = ADAPTERS[self.protocol](self)

    @property
    def fields(self) -> dict:
        return self.body if isinstance(self.body, dict) else {}

    def serve(self, method: str, url: str, payload: dict | None = None, **kw):
        serve(self.rsps, method, url, payload or self.payload, **kw)


def _openai(ctx):
    stem = ctx.stem
    profile = "newapi" if stem.startswith("newapi_") else "openai"
    profile = "litellm" if stem.startswith("litellm_") else profile
    return ctx.make("openai", GW, extra={"profile": profile})


def _vertex(ctx, **extra):
    from .conftest import write_key_file

    ctx.key_file = ctx.key_file or write_key_file(ctx.tmp_path / "service-account.json")
    if not ctx.stem.startswith("token_") and not extra:
        serve(ctx.rsps, "POST", TOKEN_URI, load_payload("vertex/token_200.json"))
    return ctx.make(
        "vertex",
        VERTEX_HOST,
        "/v1",
        api_key=str(ctx.key_file),
        extra={**VERTEX_EXTRA, **extra},
    )


ADAPTERS = {
    "openai": _openai,
    "fal": lambda ctx: ctx.make("fal", FAL, ""),
    "replicate": lambda ctx: ctx.make("replicate", "https://api.replicate.com", "/v1"),
    "gemini": lambda ctx: ctx.make("gemini", GEMINI_HOST, "/v1beta"),
    "openrouter": lambda ctx: ctx.make("openrouter", OPENROUTER_HOST, "/api/v1"),
    "vertex": _vertex,
}


def leaves(obj, path=()):
    """(path, value) of every scalar; a list of scalars is one value."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from leaves(value, (*path, key))
    elif isinstance(obj, list) and any(isinstance(v, dict | list) for v in obj):
        for i, value in enumerate(obj):
            yield from leaves(value, (*path, i))
    else:
        yield path, obj


def assert_sent_like_recorded(sent: dict, recorded: dict, differs: dict | None = None) -> None:
    """Every field Reelay sends is one the official client sends, with the value it sends for
    the same inputs; ``differs`` names the few deliberate differences."""
    known = dict(leaves(recorded))
    differs = differs or {}
    for path, value in leaves(sent):
        where = ".".join(map(str, path))
        assert path in known, f"Reelay sends {where}, which the official client never sends"
        assert value == differs.get(path, known[path]), where


# ---- OpenAI Videos (OpenAI, new-api, LiteLLM) ---------------------------------------------

VIDEOS = f"{GW}/v1/videos"
OA_ID = "task_8Hq2ZkV0mYc3Lr7NwT1bXs5QeA9dFu4G"
OA_JOB = Job(
    model="sora-2", prompt="A calico cat playing a piano on stage", seconds=8, size="1280x720"
)


def oa_id(ctx) -> str:
    for key in ("id", "task_id"):
        if isinstance(ctx.fields.get(key), str):
            return ctx.fields[key]
    return OA_ID


def oa_create(ctx):
    ctx.serve("POST", VIDEOS)
    submitted = ctx.adapter.submit(OA_JOB)
    assert submitted.external_id == oa_id(ctx)
    return agree(submitted.status, parse_video(ctx.body, secret=KEY))


def oa_status(ctx):
    vid = oa_id(ctx)
    ctx.serve("GET", f"{VIDEOS}/{seg(vid)}")
    return agree(ctx.adapter.status(vid, {}), parse_video(ctx.body, secret=KEY))


def oa_task(ctx):
    """new-api's native task route, reached when /v1/videos/{id} answers 501."""
    task = ctx.body["data"]["task_id"]
    ctx.rsps.get(
        f"{VIDEOS}/{task}",
        status=501,
        json={"error": {"message": "not implemented", "code": "not_implemented"}},
    )
    ctx.serve("GET", f"{GW}/v1/video/generations/{task}")
    return agree(ctx.adapter.status(task, {}), parse_task_dto(ctx.body, secret=KEY))


def oa_remix(ctx):
    ctx.serve("POST", f"{VIDEOS}/{OA_ID}/remix")
    submitted = ctx.adapter.remix(OA_ID, {}, Job(model="sora-2", prompt="Same scene at night"))
    assert submitted.external_id == oa_id(ctx)
    return agree(submitted.status, parse_video(ctx.body, secret=KEY))


def oa_content(ctx):
    ctx.serve("GET", f"{VIDEOS}/{OA_ID}/content")
    return ctx.adapter.download(OA_ID, {})


def oa_delete(ctx):
    ctx.serve("DELETE", f"{VIDEOS}/{OA_ID}")
    return ctx.adapter.delete(OA_ID, {})


def oa_list(ctx):
    ctx.serve("GET", VIDEOS)
    return ctx.adapter.list_jobs(datetime(2025, 1, 1))


def oa_check(ctx):
    ctx.serve("GET", VIDEOS)
    ctx.rsps.get(f"{GW}/v1/models", json={"object": "list", "data": []})
    return ctx.adapter.check()


def oa_download(ctx, status):
    vid = oa_id(ctx)
    ctx.rsps.get(f"{VIDEOS}/{seg(vid)}/content", body=MP4, content_type="video/mp4")
    return ctx.adapter.download(vid, {})


def listed_as_recorded(ctx, found):
    [item] = found
    src = ctx.body["data"][0]
    assert item.external_id == src["id"]
    assert item.created_at == ts(src["created_at"])
    assert item.echo == echo_of(src["model"], src["prompt"], src["size"], int(src["seconds"]))
    assert item.status.state == pb.COMPLETED
    assert item.status.expires_at == ts(src["expires_at"])
    if ctx.stem.startswith("litellm_"):
        # LiteLLM's list ignores after/limit/order: never used to find a lost create.
        assert pb.CAP_LIST not in ctx.adapter.capabilities


def deleted(ctx, result):
    assert result is None
    assert ctx.rsps.calls[-1].request.method == "DELETE"


def newapi_has_no_delete(ctx, result):
    # new-api routes no DELETE (404 "Invalid URL"): the profile never offers it.
    assert pb.CAP_DELETE not in ctx.adapter.capabilities
    assert pb.CAP_CANCEL not in ctx.adapter.capabilities


def litellm_delete_refused(ctx, _):
    assert pb.CAP_DELETE not in ctx.adapter.capabilities
    with pytest.raises(pb.PermanentError) as info:
        oa_delete(ctx)
    assert type(info.value) is pb.PermanentError
    assert info.value.message == "Method Not Allowed"


def newapi_has_no_list(ctx, result):
    # check() falls back to /models; the profile never lists.
    assert (result.ok, result.reachable, result.authenticated) == (True, True, True)
    assert pb.CAP_LIST not in ctx.adapter.capabilities
    with pytest.raises(pb.NotFound) as info:
        ctx.adapter.list_jobs(datetime(2025, 1, 1))
    assert info.value.message == "Invalid URL (GET /v1/videos)"


# ---- fal queue --------------------------------------------------------------------------

FAL_MODEL = "fal-ai/veo3"
FAL_RID = "3f6c1a2e-8b4d-4c1e-9f2a-7d5e0b9c4a11"
FAL_REQ = f"{FAL}/fal-ai/veo3/requests/{FAL_RID}"
FAL_HANDLES = {
    "request_id": FAL_RID,
    "status_url": f"{FAL_REQ}/status",
    "response_url": FAL_REQ,
    "cancel_url": f"{FAL_REQ}/cancel",
}


def fal_submit(ctx):
    ctx.serve("POST", f"{FAL}/{FAL_MODEL}")
    submitted = ctx.adapter.submit(Job(model=FAL_MODEL, prompt="a red fox in the snow"))
    keys = ("request_id", "status_url", "response_url", "cancel_url")
    assert submitted.external_id == ctx.body["request_id"]
    assert submitted.handles == {k: ctx.body[k] for k in keys if ctx.body.get(k)}  # verbatim
    return submitted.status


def fal_status(ctx):
    """The status URL answers this; a COMPLETED status leads to the (recorded) result."""
    ctx.serve("GET", FAL_HANDLES["status_url"])
    serve(ctx.rsps, "GET", FAL_REQ, load_payload("fal/result_veo3_200.json"))
    return ctx.adapter.status(FAL_RID, FAL_HANDLES)


def fal_result(ctx):
    """The status says COMPLETED (as recorded); the result URL answers this."""
    serve(ctx.rsps, "GET", FAL_HANDLES["status_url"], load_payload("fal/status_completed_200.json"))
    ctx.serve("GET", FAL_REQ)
    return ctx.adapter.status(FAL_RID, FAL_HANDLES)


def fal_webhook(ctx):
    """A webhook carries what the result URL answers (``payload``; ``error`` says the HTTP
    status of a failed one): fed to the adapter through the result URL."""
    code = 200 if ctx.body["status"] == "OK" else int(re.search(r"\d{3}", ctx.body["error"])[0])
    serve(ctx.rsps, "GET", FAL_HANDLES["status_url"], load_payload("fal/status_completed_200.json"))
    ctx.rsps.get(FAL_REQ, status=code, json=ctx.body["payload"])
    return ctx.adapter.status(FAL_RID, FAL_HANDLES)


def fal_cancel(ctx):
    ctx.serve("PUT", FAL_HANDLES["cancel_url"])
    return ctx.adapter.cancel(FAL_RID, FAL_HANDLES)


def fal_download(ctx, status):
    ctx.rsps.get(status.result_urls["video"], body=MP4, content_type="video/mp4")
    return ctx.adapter.download(FAL_RID, FAL_HANDLES)


def cancel_sent(ctx, result):
    assert result is None
    [call] = ctx.rsps.calls
    assert (call.request.method, call.request.url) == ("PUT", FAL_HANDLES["cancel_url"])


def fal_not_completed(ctx, _):
    """fal answers the result URL with 400 while the request "has not been completed": the
    job is still running (or the read is retried), never a finished failure."""
    try:
        status = fal_result(ctx)
    except pb.TransientError:
        return
    assert status.state in (pb.QUEUED, pb.IN_PROGRESS), (
        f"a not-yet-completed request reported as {status.state}: "
        f"{status.error_code} {status.error_message!r}"
    )


# ---- Replicate -------------------------------------------------------------------------

REP_ID = "q8m3k1vz9hrme0cq2x7tq5ys4w"
REP_GET = f"{REPLICATE}/predictions/{REP_ID}"
REP_HANDLES = {"get": REP_GET, "cancel": f"{REP_GET}/cancel"}
REP_DONE = datetime(2025, 6, 1, 12, 0, 44, 500000)  # completed_at of the recorded jobs


def rep_id(ctx) -> str:
    return ctx.fields.get("id") or REP_ID


def rep_create(ctx):
    ctx.serve("POST", f"{REPLICATE}/models/kwaivgi/kling-v2.1/predictions")
    job = Job(model="kwaivgi/kling-v2.1", prompt="a red fox running through snow", seconds=5)
    submitted = ctx.adapter.submit(job)
    urls = ctx.body["urls"]
    assert submitted.external_id == ctx.body["id"]
    assert submitted.handles == {"get": urls["get"], "cancel": urls["cancel"]}
    return agree(submitted.status, parse_prediction(ctx.body, KEY))


def rep_get(ctx):
    url = f"{REPLICATE}/predictions/{rep_id(ctx)}"
    ctx.serve("GET", url)
    return agree(ctx.adapter.status(rep_id(ctx), {"get": url}), parse_prediction(ctx.body, KEY))


def rep_cancel(ctx):
    ctx.serve("POST", REP_HANDLES["cancel"])
    assert ctx.adapter.cancel(REP_ID, REP_HANDLES) is None
    return parse_prediction(ctx.body, KEY)


def rep_parse(ctx):
    """Bodies Reelay never fetches itself (webhook deliveries): the parser alone."""
    return parse_prediction(ctx.body, KEY)


def rep_list(ctx):
    ctx.serve("GET", f"{REPLICATE}/predictions", match=[matchers.query_param_matcher({})])
    cursor = parse_qs(ctx.body["next"].split("?", 1)[1])["cursor"][0]
    ctx.rsps.get(
        f"{REPLICATE}/predictions",
        json={"next": None, "previous": None, "results": []},
        match=[matchers.query_param_matcher({"cursor": cursor})],
    )
    return ctx.adapter.list_jobs(datetime(2025, 6, 1, 11, 0))


def rep_download(ctx, status):
    url = f"{REPLICATE}/predictions/{rep_id(ctx)}"
    ctx.rsps.get(url, json=ctx.body)
    if status.result_urls.get("video"):
        ctx.rsps.get(status.result_urls["video"], body=MP4, content_type="video/mp4")
    return ctx.adapter.download(rep_id(ctx), {"get": url})


def replicate_listed(ctx, found):
    [item] = found
    src = ctx.body["results"][0]
    assert item.external_id == src["id"]
    assert item.created_at == datetime(2025, 6, 1, 12, 0, 0, 123456)
    assert item.echo == echo_of(None, src["input"]["prompt"], None, src["input"]["duration"])
    assert item.status.state == pb.COMPLETED
    assert item.status.result_urls == {"video": src["output"]}
    assert item.handles == {"get": src["urls"]["get"], "cancel": src["urls"]["cancel"]}
    assert ctx.rsps.calls[-1].request.url == ctx.body["next"]  # the next page, verbatim


# ---- Gemini API ------------------------------------------------------------------------

G_MODEL = "veo-3.1-generate-preview"
G_OP = f"models/{G_MODEL}/operations/op-7k2m9q4x1z"
G_IMAGE_MODEL = "gemini-2.5-flash-image"


def gem_predict(ctx):
    ctx.serve("POST", f"{GEMINI}/models/{G_MODEL}:predictLongRunning")
    submitted = ctx.adapter.submit(Job(model=G_MODEL, prompt="A paper boat on a rainy street"))
    assert submitted.external_id == ctx.body["name"]
    return submitted.status


def gem_operation(ctx):
    name = ctx.fields.get("name") or G_OP
    ctx.serve("GET", f"{GEMINI}/{name}")
    return agree(ctx.adapter.status(name, {}), ctx.adapter._parse_operation(ctx.body))


def gem_generate(ctx):
    ctx.serve("POST", f"{GEMINI}/models/{G_IMAGE_MODEL}:generateContent")
    job = Job(model=G_IMAGE_MODEL, prompt="A storyboard frame", media_type="IMAGE")
    return ctx.adapter.submit(job)


def gem_download(ctx, status):
    if status.result_urls.get("video"):
        ctx.rsps.get(status.result_urls["video"], body=MP4, content_type="video/mp4")
    return ctx.adapter.download(ctx.body["name"], {})


def inline_image(ctx, submitted):
    inline = ctx.body["candidates"][0]["content"]["parts"][1]["inlineData"]
    assert submitted.external_id == ctx.body["responseId"]
    assert (submitted.status.state, submitted.status.progress) == (pb.COMPLETED, 100)
    assert submitted.inline_results == {
        "image": (base64.b64decode(inline["data"]), inline["mimeType"])
    }


def gemini_generate_request(ctx, _):
    recorded = ctx.body
    ctx.rsps.post(
        f"{GEMINI}/models/{G_IMAGE_MODEL}:generateContent",
        json=load_payload("gemini/generateContent_image_200.json")["body"],
    )
    job = Job(
        model=G_IMAGE_MODEL,
        prompt=recorded["contents"][0]["parts"][0]["text"],
        media_type="IMAGE",
        aspect_ratio=recorded["generationConfig"]["imageConfig"]["aspectRatio"],
    )
    ctx.adapter.submit(job)
    request = ctx.rsps.calls[-1].request
    # Reelay asks for the image alone (the SDK sample asks for text and image).
    assert_sent_like_recorded(
        json.loads(request.body),
        recorded,
        differs={("generationConfig", "responseModalities"): ["IMAGE"]},
    )
    assert request.headers["x-goog-api-key"] == KEY
    assert "Authorization" not in request.headers


def gemini_predict_request(ctx, _):
    recorded = ctx.body
    ctx.rsps.post(f"{GEMINI}/models/{G_MODEL}:predictLongRunning", json={"name": G_OP})
    instance, params = recorded["instances"][0], recorded["parameters"]
    job = Job(
        model=G_MODEL,
        prompt=instance["prompt"],
        seconds=params["durationSeconds"],
        aspect_ratio=params["aspectRatio"],
        size="1280x720",  # -> resolution 720p
        reference_image=base64.b64decode(instance["image"]["bytesBase64Encoded"]),
        reference_mime=instance["image"]["mimeType"],
    )
    ctx.adapter.submit(job)
    request = ctx.rsps.calls[-1].request
    assert_sent_like_recorded(json.loads(request.body), recorded)
    assert request.headers["x-goog-api-key"] == KEY


# ---- OpenRouter ------------------------------------------------------------------------

OR_ID = "gen-vid-1767312000-a1B2c3D4e5F6g7H8i9J0"
OR_JOB = Job(model="google/veo-3.1", prompt="A golden retriever", seconds=8, aspect_ratio="16:9")


def or_create(ctx):
    ctx.serve("POST", f"{OPENROUTER}/videos")
    submitted = ctx.adapter.submit(OR_JOB)
    assert submitted.external_id == ctx.body["id"]
    return agree(submitted.status, parse_job(ctx.body, KEY))


def or_get(ctx):
    ctx.serve("GET", f"{OPENROUTER}/videos/{OR_ID}")
    return agree(ctx.adapter.status(OR_ID, {}), parse_job(ctx.body, KEY))


def or_content(ctx):
    length = int(ctx.payload["headers"]["Content-Length"])
    content = (MP4 * 5)[:length]  # the recording holds no bytes, only their length
    ctx.serve("GET", f"{OPENROUTER}/videos/{OR_ID}/content", body=content)
    return content, ctx.adapter.download(OR_ID, {})


def or_models(ctx):
    ctx.serve("GET", f"{OPENROUTER}/videos/models")
    return ctx.adapter.models()


def or_download(ctx, status):
    ctx.rsps.get(f"{OPENROUTER}/videos/{OR_ID}/content", body=MP4, content_type="video/mp4")
    return ctx.adapter.download(OR_ID, {})


def content_streamed(ctx, result):
    content, download = result
    assert b"".join(download.chunks) == content
    assert download.content_type == "video/mp4"
    assert download.length == len(content)
    request = ctx.rsps.calls[-1].request
    assert request.url == f"{OPENROUTER}/videos/{OR_ID}/content?index=0"
    assert request.headers["Accept"] == "video/mp4"  # the SDK accepts video/mp4 only
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def models_listed(ctx, models):
    data = ctx.body["data"]
    assert [m.id for m in models] == [d["id"] for d in data]
    veo, wan = models
    assert veo.name == "Google: Veo 3.1"
    assert veo.durations == (4, 6, 8)
    assert veo.sizes == ("1280x720", "720x1280", "1920x1080", "1080x1920")
    assert veo.aspect_ratios == ("16:9", "9:16")
    assert veo.resolutions == ("720p", "1080p")
    assert veo.frame_images == ("first_frame", "last_frame")
    assert wan.sizes == ()  # supported_sizes: null
    assert wan.durations == (5, 10)


def openrouter_request(ctx, _):
    recorded = ctx.body
    adapter = ctx.make("openrouter", OPENROUTER_HOST, "/api/v1", extra={"generate_audio": True})
    ctx.rsps.post(
        f"{OPENROUTER}/videos", json=load_payload("openrouter/create_202.json")["body"], status=202
    )
    url = recorded["frame_images"][0]["image_url"]["url"]
    mime, data = re.match(r"data:([^;]+);base64,(.*)", url).groups()
    job = Job(
        model=recorded["model"],
        prompt=recorded["prompt"],
        seconds=recorded["duration"],
        aspect_ratio=recorded["aspect_ratio"],
        reference_image=base64.b64decode(data),
        reference_mime=mime,
    )
    adapter.submit(job)
    request = ctx.rsps.calls[-1].request
    assert request.url == f"{OPENROUTER}/videos"
    assert_sent_like_recorded(json.loads(request.body), recorded)
    assert request.headers["Authorization"] == f"Bearer {KEY}"


# ---- Vertex AI --------------------------------------------------------------------------

V_MODEL = "veo-3.1-generate-001"
V_MODEL_PATH = f"projects/my-proj/locations/us-central1/publishers/google/models/{V_MODEL}"
V_OP = f"{V_MODEL_PATH}/operations/3f0c2a8e-5b1d-4c7e-9a2f-8d6e4b1c0a97"
V_FETCH = f"{VERTEX}/{V_MODEL_PATH}:fetchPredictOperation"
V_PREDICT = f"{VERTEX}/{V_MODEL_PATH}:predictLongRunning"
V_TOKEN = "ya29.c.fake-access-token"  # what token_200.json issues


def v_predict(ctx):
    ctx.serve("POST", V_PREDICT)
    submitted = ctx.adapter.submit(Job(model=V_MODEL, prompt="A neon hologram of a cat"))
    assert submitted.external_id == ctx.body["name"]
    return submitted.status


def v_fetch(ctx):
    ctx.serve("POST", V_FETCH)
    status = ctx.adapter.status(V_OP, {})
    return agree(status, parse_operation(ctx.body, ctx.adapter.config.api_key))


def v_token(ctx):
    """The token endpoint answers this; then a poll that needs the token."""
    ctx.serve("POST", TOKEN_URI)
    serve(ctx.rsps, "POST", V_FETCH, load_payload("vertex/fetchPredictOperation_running_200.json"))
    return ctx.adapter.status(V_OP, {})


def v_download(ctx, status):
    video = first_video(ctx.body)
    if video.get("gcsUri"):
        bucket, _, obj = video["gcsUri"][5:].partition("/")
        url = f"{STORAGE}/storage/v1/b/{bucket}/o/{quote(obj, safe='')}"
        ctx.rsps.get(url, body=MP4, content_type="video/mp4")
    download = ctx.adapter.download(V_OP, {})
    if video.get("gcsUri"):
        request = ctx.rsps.calls[-1].request
        assert request.headers["Authorization"] == f"Bearer {V_TOKEN}"
        assert "alt=media" in request.url
    return download


def token_used(ctx, status):
    assert status.state == pb.IN_PROGRESS
    token_call, fetch_call = ctx.rsps.calls
    assert token_call.request.url == TOKEN_URI
    assert fetch_call.request.headers["Authorization"] == f"Bearer {ctx.body['access_token']}"
    # A token that lasts an hour is not fetched again for the next call.
    ctx.adapter.status(V_OP, {})
    assert [c.request.url for c in ctx.rsps.calls].count(TOKEN_URI) == 1
    assert ctx.adapter.check().ok


def token_refused(ctx, _):
    with pytest.raises(pb.ProviderError) as info:
        v_token(ctx)
    assert type(info.value) is pb.AuthError
    assert_safe(info.value.message, ctx.body, MAX_ERROR)
    assert "invalid_grant" not in info.value.message
    result = ctx.adapter.check()
    assert (result.ok, result.reachable, result.authenticated) == (False, True, False)


def _jwt_part(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def token_request_like_recorded(ctx, _):
    serve(ctx.rsps, "POST", TOKEN_URI, load_payload("vertex/token_200.json"))
    serve(ctx.rsps, "POST", V_FETCH, load_payload("vertex/fetchPredictOperation_running_200.json"))
    ctx.adapter.status(V_OP, {})
    request = ctx.rsps.calls[0].request
    assert request.url == TOKEN_URI
    assert request.headers["Content-Type"] == ctx.payload["headers"]["Content-Type"]
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    sent = {k: v[0] for k, v in parse_qs(body).items()}
    assert set(sent) == set(ctx.body)
    assert sent["grant_type"] == ctx.body["grant_type"]
    head, claims, _signature = sent["assertion"].split(".")
    recorded_head, recorded_claims = (_jwt_part(p) for p in ctx.body["assertion"].split(".")[:2])
    assert _jwt_part(head) == {**recorded_head, "kid": "abc123"}
    claims = _jwt_part(claims)
    assert set(claims) == set(recorded_claims)
    assert claims["aud"] == recorded_claims["aud"]
    assert claims["scope"] == recorded_claims["scope"]
    assert claims["iss"] == SA_EMAIL
    assert claims["exp"] - claims["iat"] == recorded_claims["exp"] - recorded_claims["iat"]


def fetch_request_like_recorded(ctx, _):
    serve(ctx.rsps, "POST", V_FETCH, load_payload("vertex/fetchPredictOperation_running_200.json"))
    ctx.adapter.status(ctx.body["operationName"], {})
    request = ctx.rsps.calls[-1].request
    assert request.url == V_FETCH
    assert json.loads(request.body) == ctx.body
    assert request.headers["Authorization"] == f"Bearer {V_TOKEN}"


def vertex_predict_request(ctx, _):
    recorded = ctx.body
    instance, params = recorded["instances"][0], recorded["parameters"]
    extra = {}
    if "storageUri" in params:
        extra["storage_uri"] = params["storageUri"]
    if "generateAudio" in params:
        extra["generate_audio"] = params["generateAudio"]
    adapter = _vertex(ctx, **extra) if extra else ctx.adapter
    serve(ctx.rsps, "POST", TOKEN_URI, load_payload("vertex/token_200.json"))
    serve(ctx.rsps, "POST", V_PREDICT, load_payload("vertex/predictLongRunning_200.json"))
    image = instance.get("image") or {}
    job = Job(
        model=V_MODEL,
        prompt=instance["prompt"],
        seconds=params["durationSeconds"],
        aspect_ratio=params["aspectRatio"],
        # Reelay uploads the reference itself; it never names a gs:// image.
        reference_image=base64.b64decode(image["bytesBase64Encoded"])
        if "bytesBase64Encoded" in image
        else None,
        reference_mime=image.get("mimeType"),
    )
    adapter.submit(job)
    request = ctx.rsps.calls[-1].request
    assert request.url == V_PREDICT
    assert_sent_like_recorded(json.loads(request.body), recorded)
    assert request.headers["Authorization"] == f"Bearer {V_TOKEN}"


# ---- the drivers: how a payload reaches the adapter -------------------------------------


def nothing(ctx):
    return None


DRIVERS = {
    "openai": {
        "create": oa_create,
        "status": oa_status,
        "task": oa_task,
        "remix": oa_remix,
        "content": oa_content,
        "delete": oa_delete,
        "list": oa_list,
        "check": oa_check,
        "custom": nothing,
    },
    "fal": {
        "submit": fal_submit,
        "status": fal_status,
        "result": fal_result,
        "webhook": fal_webhook,
        "cancel": fal_cancel,
        "custom": nothing,
    },
    "replicate": {
        "create": rep_create,
        "get": rep_get,
        "cancel": rep_cancel,
        "parse": rep_parse,
        "list": rep_list,
    },
    "gemini": {
        "predict": gem_predict,
        "operation": gem_operation,
        "generate": gem_generate,
        "custom": nothing,
    },
    "openrouter": {
        "create": or_create,
        "get": or_get,
        "content": or_content,
        "models": or_models,
        "custom": nothing,
    },
    "vertex": {
        "predict": v_predict,
        "fetch": v_fetch,
        "token": v_token,
        "custom": nothing,
    },
}
DOWNLOADS = {
    "openai": oa_download,
    "fal": fal_download,
    "replicate": rep_download,
    "gemini": gem_download,
    "openrouter": or_download,
    "vertex": v_download,
}

# ---- the expectation table: one entry per payload file ----------------------------------

EXPIRES = ts(1767312095)  # expires_at of the recorded OpenAI/new-api/LiteLLM jobs
FAL_VIDEO = "https://v3.fal.media/files/penguin/Xk3r9Qm2ZpL0aT7vB1cY_output.mp4"
REP_VIDEO = "https://replicate.delivery/xezq/8fJk2LmQ0pRsT9uV/tmp3x9a1b2c.mp4"
HOUR = timedelta(hours=1)

EXPECT: dict[str, Status | Raises | Check] = {
    # OpenAI (openai SDK 3.54 types + docs)
    "openai/oa_create_queued.json": Status(
        "create", pb.QUEUED, progress=0, expires_at=None, raw_status="queued"
    ),
    "openai/oa_create_with_quality.json": Status("create", pb.QUEUED, progress=0),
    "openai/oa_delete.json": Check("delete", deleted),
    "openai/oa_error_400_bad_size.json": Raises(
        "create", pb.PermanentError, "Invalid value: '1792x1024'."
    ),
    "openai/oa_error_404_not_found.json": Raises(
        "status", pb.NotFound, "Video with id 'video_does_not_exist' not found."
    ),
    "openai/oa_error_429_retry_after_ms.json": Raises("create", pb.RateLimited, retry_after=1.5),
    "openai/oa_content_404_expired.json": Raises(
        "content", pb.ContentExpired, "The video is no longer available."
    ),
    "openai/oa_list_page.json": Check("list", listed_as_recorded),
    "openai/oa_remix_queued.json": Status("remix", pb.QUEUED, progress=0),
    "openai/oa_retrieve_completed.json": Status(
        "status", pb.COMPLETED, progress=100, expires_at=EXPIRES, download=MP4
    ),
    "openai/oa_retrieve_failed.json": Status(
        "status",
        pb.FAILED,
        error_code="moderation_blocked",
        message="Your request was blocked by our moderation system.",
    ),
    "openai/oa_retrieve_in_progress.json": Status(
        "status", pb.IN_PROGRESS, progress=42, poll_after=2.0, expires_at=None
    ),
    # new-api (QuantumNous main)
    "openai/newapi_auth_invalid_token.json": Raises("status", pb.AuthError),
    "openai/newapi_content_not_completed.json": Raises(
        "content", pb.PermanentError, "Task is not completed yet"
    ),
    "openai/newapi_content_task_not_found.json": Raises("content", pb.ContentExpired),
    "openai/newapi_content_upstream_error.json": Raises("content", pb.TransientError),
    "openai/newapi_create_invalid_size.json": Raises(
        "create", pb.PermanentError, "sora-2 size is invalid"
    ),
    "openai/newapi_create_missing_model.json": Raises(
        "create", pb.PermanentError, "Model name not specified"
    ),
    "openai/newapi_create_missing_prompt.json": Raises(
        "create", pb.PermanentError, "prompt is required"
    ),
    "openai/newapi_create_non_sora_channel.json": Status("create", pb.QUEUED, progress=0),
    "openai/newapi_create_sora_channel.json": Status("create", pb.QUEUED, progress=0),
    "openai/newapi_create_upstream_429.json": Raises("create", pb.RateLimited, retry_after=None),
    # The message is the upstream's whole error body as a string: only its message may show.
    "openai/newapi_create_upstream_error_passthrough.json": Raises(
        "create", pb.PermanentError, "Invalid value: '1792x1024'."
    ),
    "openai/newapi_delete_not_routed.json": Check("delete", newapi_has_no_delete),
    "openai/newapi_list_not_routed.json": Check("check", newapi_has_no_list),
    "openai/newapi_remix_unknown_origin.json": Raises("remix", pb.NotFound),
    "openai/newapi_retrieve_sora_before_first_poll.json": Status(
        "status", pb.QUEUED, progress=0, expires_at=None
    ),
    "openai/newapi_retrieve_sora_completed.json": Status(
        "status", pb.COMPLETED, progress=100, expires_at=EXPIRES, download=MP4
    ),
    "openai/newapi_retrieve_unknown_task.json": Raises("status", pb.NotFound),
    # TaskDto: the upstream's own video object (with its expiry) is in data.data.
    "openai/newapi_video_generations_fetch.json": Status(
        "task",
        pb.COMPLETED,
        progress=100,
        raw_status="SUCCESS",
        expires_at=EXPIRES,
        video_url=(
            "https://gateway.example.com/v1/videos/task_8Hq2ZkV0mYc3Lr7NwT1bXs5QeA9dFu4G/content"
        ),
    ),
    "openai/newapi_kling_retrieve_completed.json": Status(
        "status",
        pb.COMPLETED,
        progress=100,
        error_code=None,
        message=None,
        video_url="https://v16-kling-fdl.klingai.com/bs2/upload/abc.mp4?x-expires=1764433615",
    ),
    # LiteLLM proxy 1.110.2
    "openai/litellm_auth_error.json": Raises("status", pb.AuthError),
    "openai/litellm_create.json": Status("create", pb.QUEUED, progress=0, expires_at=None),
    "openai/litellm_delete_405.json": Check("custom", litellm_delete_refused),
    "openai/litellm_error_404_upstream.json": Raises(
        "status", pb.NotFound, "Video with id 'video_does_not_exist' not found."
    ),
    "openai/litellm_list.json": Check("list", listed_as_recorded),
    "openai/litellm_retrieve_completed.json": Status(
        "status", pb.COMPLETED, progress=100, expires_at=EXPIRES, download=MP4
    ),
    "openai/litellm_veo_processing.json": Status(
        "status", pb.IN_PROGRESS, progress=None, raw_status="processing"
    ),
    # fal queue
    "fal/cancel_202.json": Check("cancel", cancel_sent),
    "fal/cancel_400_already_completed.json": Check("cancel", cancel_sent),
    "fal/error_401_bad_key.json": Raises("submit", pb.AuthError),
    "fal/error_403_exhausted_balance.json": Raises("submit", pb.AuthError),
    "fal/error_429_rate_limited.json": Raises("submit", pb.RateLimited, retry_after=None),
    "fal/result_400_not_completed.json": Check("custom", fal_not_completed),
    "fal/result_404_not_found.json": Raises("result", pb.NotFound, "Request not found"),
    "fal/result_422_content_policy.json": Status(
        "result", pb.FAILED, message="flagged by a content checker", raw_status="COMPLETED"
    ),
    "fal/result_422_validation.json": Status(
        "result", pb.FAILED, message="Input should be '4s', '6s' or '8s'"
    ),
    "fal/result_504_request_timeout.json": Status(
        "result", pb.FAILED, error_code="request_timeout", message="Request timed out"
    ),
    "fal/result_flux_images_200.json": Status(
        "result",
        pb.COMPLETED,
        progress=100,
        video_url="https://v3.fal.media/files/tiger/Qw8e7r6t5y4u3i2o1p0a.png",
        download=MP4,
    ),
    "fal/result_kling_200.json": Status(
        "result",
        pb.COMPLETED,
        progress=100,
        video_url="https://v3.fal.media/files/koala/9fT2uQ8wNcE4rY1hK0sJ_output.mp4",
        download=MP4,
    ),
    "fal/result_veo3_200.json": Status(
        "result", pb.COMPLETED, progress=100, video_url=FAL_VIDEO, download=MP4
    ),
    "fal/status_completed_200.json": Status(
        "status", pb.COMPLETED, progress=100, video_url=FAL_VIDEO, download=MP4
    ),
    "fal/status_completed_failed_200.json": Status(
        "status", pb.FAILED, error_code="request_timeout", message="Request timed out"
    ),
    "fal/status_in_progress_logs_202.json": Status(
        "status", pb.IN_PROGRESS, progress=None, queue_position=None, raw_status="IN_PROGRESS"
    ),
    "fal/status_in_progress_nologs_202.json": Status("status", pb.IN_PROGRESS, progress=None),
    "fal/status_in_queue_202.json": Status(
        "status", pb.QUEUED, queue_position=2, raw_status="IN_QUEUE"
    ),
    "fal/submit_kling_subpath_200.json": Status("submit", pb.QUEUED, queue_position=3),
    "fal/submit_veo3_200.json": Status("submit", pb.QUEUED, queue_position=0),
    "fal/submit_webhook_200.json": Status("submit", pb.QUEUED, queue_position=None),
    "fal/webhook_ok.json": Status("webhook", pb.COMPLETED, video_url=FAL_VIDEO, download=MP4),
    "fal/webhook_error.json": Status("webhook", pb.FAILED, message="field required"),
    # Replicate
    "replicate/cancel_200.json": Status("cancel", pb.CANCELLED, message=None),
    "replicate/create_201_prefer_wait_succeeded.json": Status(
        "create",
        pb.COMPLETED,
        progress=100,
        video_url=REP_VIDEO,
        expires_at=REP_DONE + HOUR,
        download=MP4,
    ),
    "replicate/create_201_prefer_wait_timed_out.json": Status("create", pb.QUEUED),
    "replicate/create_201_starting.json": Status(
        "create", pb.QUEUED, progress=None, expires_at=None, video_url=None
    ),
    "replicate/create_201_starting_stream_url.json": Status("create", pb.QUEUED),
    "replicate/create_201_with_deadline.json": Status("create", pb.QUEUED, expires_at=None),
    "replicate/error_401_unauthenticated.json": Raises("create", pb.AuthError),
    "replicate/error_402_insufficient_credit.json": Raises(
        "create", pb.PermanentError, "You have insufficient credit to run this model."
    ),
    "replicate/error_404_not_found.json": Raises(
        "get", pb.NotFound, "The requested resource could not be found."
    ),
    "replicate/error_422_input_validation.json": Raises(
        "create", pb.PermanentError, "duration must be one of the following: 5, 10"
    ),
    "replicate/error_422_invalid_version.json": Raises(
        "create", pb.PermanentError, "The specified version does not exist"
    ),
    "replicate/error_429_throttled.json": Raises("create", pb.RateLimited, retry_after=30),
    "replicate/get_200_aborted.json": Status("get", pb.CANCELLED, raw_status="aborted"),
    "replicate/get_200_data_removed.json": Status(
        "get",
        pb.COMPLETED,
        video_url=None,
        expires_at=REP_DONE,
        download=pb.ContentExpired,
    ),
    "replicate/get_200_failed.json": Status(
        "get",
        pb.FAILED,
        error_code="generation_failed",
        message="E005: The input or output was flagged as sensitive.",
    ),
    "replicate/get_200_processing.json": Status("get", pb.IN_PROGRESS, progress=None),
    "replicate/get_200_succeeded_images_list.json": Status(
        "get",
        pb.COMPLETED,
        video_url="https://replicate.delivery/xezq/a1B2c3D4e5F6/out-0.webp",
        expires_at=datetime(2025, 6, 1, 12, 0, 1, 100000) + HOUR,
    ),
    "replicate/get_200_succeeded_video.json": Status(
        "get",
        pb.COMPLETED,
        progress=100,
        video_url=REP_VIDEO,
        expires_at=REP_DONE + HOUR,
        download=MP4,
    ),
    "replicate/list_200.json": Check("list", replicate_listed),
    "replicate/webhook_completed_delivery.json": Status(
        "parse", pb.COMPLETED, video_url=REP_VIDEO, expires_at=REP_DONE + HOUR
    ),
    # Reelay registers no webhooks; a body that is no prediction never reads as finished.
    "replicate/webhook_secret_200.json": Status("parse", pb.QUEUED, video_url=None),
    # Gemini API
    "gemini/error_400_api_key_invalid.json": Raises("generate", pb.AuthError),
    "gemini/error_404_model_not_found.json": Raises(
        "generate", pb.NotFound, "models/gemini-flash-latest is not found"
    ),
    # google.rpc.RetryInfo says when to retry ("47s"); the answer has no Retry-After header.
    "gemini/error_429_resource_exhausted.json": Raises("generate", pb.RateLimited, retry_after=47),
    "gemini/generateContent_blocked_200.json": Raises(
        "generate", pb.PermanentError, "prohibited content"
    ),
    "gemini/generateContent_image_200.json": Check("generate", inline_image),
    "gemini/generateContent_image_request.json": Check("custom", gemini_generate_request),
    # The video inline (encodedVideo), not a Files API uri: finished, with the bytes.
    "gemini/veo_operation_done_encoded_200.json": Status(
        "operation",
        pb.COMPLETED,
        progress=100,
        download=base64.b64decode("AAAAGGZ0eXBtcDQy"),
    ),
    "gemini/veo_operation_done_error_200.json": Status(
        "operation", pb.FAILED, error_code="INVALID_ARGUMENT", message="Invalid image format."
    ),
    "gemini/veo_operation_done_rai_filtered_200.json": Status(
        "operation",
        pb.FAILED,
        error_code="rai_media_filtered",
        message="Your current safety settings for person generation blocked this video.",
    ),
    "gemini/veo_operation_done_uri_200.json": Status(
        "operation",
        pb.COMPLETED,
        progress=100,
        video_url=(
            "https://generativelanguage.googleapis.com/v1beta/files/k3n8x2p1q9vw:download?alt=media"
        ),
        expires_at=Soon(timedelta(days=2)),
        download=MP4,
    ),
    "gemini/veo_operation_running_200.json": Status("operation", pb.IN_PROGRESS, progress=None),
    "gemini/veo_predictLongRunning_200.json": Status("predict", pb.QUEUED),
    "gemini/veo_predictLongRunning_request.json": Check("custom", gemini_predict_request),
    # OpenRouter
    "openrouter/content_200.json": Check("content", content_streamed),
    "openrouter/create_202.json": Status("create", pb.QUEUED, raw_status="pending", cost=None),
    "openrouter/create_request.json": Check("custom", openrouter_request),
    "openrouter/error_400.json": Raises("create", pb.PermanentError, "Invalid duration 7"),
    "openrouter/error_401.json": Raises("create", pb.AuthError),
    "openrouter/error_402.json": Raises("create", pb.PermanentError, "Insufficient credits"),
    "openrouter/error_404.json": Raises("get", pb.NotFound, "Video generation job not found"),
    "openrouter/error_429.json": Raises("create", pb.RateLimited, retry_after=20),
    "openrouter/get_cancelled.json": Status("get", pb.CANCELLED, cost=None),
    "openrouter/get_completed.json": Status(
        "get",
        pb.COMPLETED,
        progress=100,
        cost=3.2,
        expires_at=ts(1767398400),
        download=MP4,
    ),
    "openrouter/get_expired.json": Status("get", pb.FAILED, error_code="expired"),
    "openrouter/get_failed.json": Status(
        "get",
        pb.FAILED,
        error_code="generation_failed",
        message="The provider rejected the prompt: content policy violation",
    ),
    "openrouter/get_in_progress.json": Status("get", pb.IN_PROGRESS, progress=None),
    "openrouter/get_pending.json": Status("get", pb.QUEUED, raw_status="pending"),
    "openrouter/models_200.json": Check("models", models_listed),
    # Vertex AI
    "vertex/error_400_invalid_argument.json": Raises(
        "predict", pb.PermanentError, "Request contains an invalid argument."
    ),
    "vertex/error_401_unauthenticated.json": Raises("fetch", pb.AuthError),
    "vertex/error_403_permission_denied.json": Raises("predict", pb.AuthError),
    "vertex/error_404_not_found.json": Raises("predict", pb.NotFound, "was not found"),
    "vertex/error_429_resource_exhausted.json": Raises("predict", pb.RateLimited, retry_after=None),
    "vertex/fetchPredictOperation_done_bytes_200.json": Status(
        "fetch",
        pb.COMPLETED,
        progress=100,
        download=base64.b64decode("AAAAGGZ0eXBtcDQyAAAAAG1wNDJpc29t"),
    ),
    "vertex/fetchPredictOperation_done_gcs_200.json": Status(
        "fetch", pb.COMPLETED, progress=100, download=MP4
    ),
    "vertex/fetchPredictOperation_done_rai_filtered_200.json": Status(
        "fetch",
        pb.FAILED,
        error_code="rai_media_filtered",
        message="the prompt may violate our policies. Support code: 17301594",
    ),
    "vertex/fetchPredictOperation_failed_200.json": Status(
        "fetch",
        pb.FAILED,
        error_code="vertex_3",
        message="The video duration 12 is not supported. Supported durations are [4, 6, 8].",
    ),
    "vertex/fetchPredictOperation_request.json": Check("custom", fetch_request_like_recorded),
    "vertex/fetchPredictOperation_running_200.json": Status("fetch", pb.IN_PROGRESS),
    "vertex/predictLongRunning_200.json": Status("predict", pb.QUEUED),
    "vertex/predictLongRunning_request.json": Check("custom", vertex_predict_request),
    "vertex/predictLongRunning_request_gcs_image.json": Check("custom", vertex_predict_request),
    "vertex/token_200.json": Check("token", token_used),
    "vertex/token_400_invalid_grant.json": Check("custom", token_refused),
    "vertex/token_request.json": Check("custom", token_request_like_recorded),
}


# ---- the tests -----------------------------------------------------------------------


def test_every_payload_has_an_expectation():
    assert len(FILES) >= 120
    assert sorted(set(FILES) - set(EXPECT)) == [], "payloads without an expectation"
    assert sorted(set(EXPECT) - set(FILES)) == [], "expectations without a payload"


@pytest.mark.parametrize("name", FILES)
def test_payload_names_its_source(name):
    recorded = load_payload(name)
    assert set(recorded) == {"source", "status", "headers", "body"}
    assert isinstance(recorded["source"], str) and len(recorded["source"]) > 20
    assert recorded["status"] is None or 100 <= recorded["status"] < 600
    assert isinstance(recorded["headers"], dict)


def _expected_status(exp: Status) -> dict:
    message = exp.message
    if message is ANY:
        message = Reason() if exp.state == pb.FAILED else None
    elif isinstance(message, str):
        message = Contains(message)
    return {
        "state": exp.state,
        "progress": exp.progress,
        "error_code": exp.error_code,
        "error_message": message,
        "expires_at": exp.expires_at,
        "video_url": exp.video_url,
        "cost": exp.cost,
        "raw_status": exp.raw_status,
        "poll_after": exp.poll_after,
        "queue_position": exp.queue_position,
    }


def _got_status(status: pb.UpstreamStatus) -> dict:
    return {
        "state": status.state,
        "progress": status.progress,
        "error_code": status.error_code,
        "error_message": status.error_message,
        "expires_at": status.expires_at,
        "video_url": status.result_urls.get("video"),
        "cost": status.cost,
        "raw_status": status.raw_status,
        "poll_after": status.poll_after,
        "queue_position": status.queue_position,
    }


@pytest.mark.parametrize("name", FILES)
def test_payload(name, rsps, make, tmp_path):
    expect = EXPECT.get(name)
    assert expect is not None, f"{name} has no expectation in EXPECT"
    ctx = Ctx(name, rsps, make, tmp_path)
    driver = DRIVERS[ctx.protocol][expect.call]

    if isinstance(expect, Raises):
        with pytest.raises(pb.ProviderError) as info:
            driver(ctx)
        error = info.value
        assert type(error) is expect.error, f"{type(error).__name__}: {error.message}"
        assert_safe(error.message, ctx.body, MAX_ERROR)
        if expect.message:
            assert expect.message in error.message
        if isinstance(error, pb.TransientError):
            assert error.retry_after == expect.retry_after
        return

    result = driver(ctx)
    if isinstance(expect, Check):
        expect.check(ctx, result)
        return

    assert isinstance(result, pb.UpstreamStatus)
    assert _got_status(result) == _expected_status(expect)
    if result.error_message is not None:
        assert_safe(result.error_message, ctx.body, MAX_FAILURE)
    if result.state == pb.COMPLETED:
        assert result.progress == 100

    if isinstance(expect.download, bytes):
        download = DOWNLOADS[ctx.protocol](ctx, result)
        try:
            assert b"".join(download.chunks) == expect.download
        finally:
            download.release()
    elif expect.download is not None:
        with pytest.raises(expect.download):
            DOWNLOADS[ctx.protocol](ctx, result)
