"""The OpenAI Videos API, as OpenAI served it and as the gateways that carry it on serve it.

One blueprint per profile, each at its own prefix:

- ``/v1`` — **openai**: the shape of ``openai`` SDK 3.54's ``Video`` (exactly its fields),
  ``seconds`` "4" | "8" | "12", the four ``VideoSize`` sizes, defaults sora-2 / "4" /
  720x1280, list with cursor paging, DELETE, content variants, 404 for unknown ids,
  ``retry-after-ms`` on 429.
- ``/newapi/v1`` — **new-api** (QuantumNous): ids ``task_…``, ``model`` required, no list
  and no DELETE (404 "Invalid URL"), an unknown task is HTTP 400 ``task_not_exist``,
  content ignores ``variant``, flat ``{code, message, data}`` task errors.
- ``/litellm/v1`` — **LiteLLM proxy**: ids ``video_<base64>`` wrapping the upstream id, no
  DELETE (405), a list that ignores its parameters and drops ``prompt``, content ignores
  ``variant``, errors whose ``code`` is the HTTP status as a string.
- ``/sora/v1`` — **relay**: the Sora relays the replaced backend used (``duration`` 10 or
  15, raw-key auth accepted); no list, no DELETE, content is the MP4 only.

Sources: /work/research notes on the SDK, new-api (sunnchao/new-api@afe16c64 mirror of
QuantumNous main) and litellm 1.110.2; sample payloads in tests/providers/payloads/openai.
"""

from __future__ import annotations

import base64
import secrets
import string
from dataclasses import dataclass

from flask import Blueprint, jsonify, request

from .common import drop_connection, file_response, guard, key_ok, latency, state

REF_KEYS = ("image_url", "file_id")
SDK_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")


@dataclass(frozen=True)
class Profile:
    name: str
    seconds: tuple[str, ...]
    sizes: tuple[str, ...]
    default_seconds: str
    default_size: str
    default_model: str | None  # None: the model is required
    listing: bool
    deleting: bool
    variants: bool
    echoes_prompt: bool


PROFILES = {
    "openai": Profile("openai", ("4", "8", "12"), SDK_SIZES, "4", "720x1280", "sora-2", True, True, True, True),
    "newapi": Profile("newapi", ("4", "8", "12"), SDK_SIZES, "4", "720x1280", None, False, False, False, False),
    "litellm": Profile("litellm", ("4", "8", "12"), SDK_SIZES, "4", "720x1280", "sora-2", True, False, False, False),
    "relay": Profile("relay", ("4", "8", "10", "12", "15"), ("1280x720", "720x1280"), "10", "1280x720", "sora-2", False, False, False, True),
}  # fmt: skip
PRO_SIZES = ("1024x1792", "1792x1024")  # sora-2-pro only (oa_error_400_bad_size.json)
PREFIXES = {"openai": "/v1", "newapi": "/newapi/v1", "litellm": "/litellm/v1", "relay": "/sora/v1"}


# ---- errors, in each profile's own shape --------------------------------------------------


def openai_error(status: int, message: str, param: str | None = None, code: str | None = None):
    etype = {401: "invalid_request_error", 429: "rate_limit_error"}.get(
        status, "invalid_request_error" if status < 500 else "server_error"
    )
    if status == 429 and code is None:
        code = "rate_limit_exceeded"
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}, status


def _error_for(profile: Profile):
    def error(status: int, message: str, param: str | None = None, code: str | None = None, **_):
        if profile.name == "litellm":
            etype = "auth_error" if status == 401 else "invalid_request_error"
            body = {
                "error": {
                    "message": f"litellm.APIError: {message}",
                    "type": etype,
                    "param": param,
                    "code": str(status),
                }
            }
            return body, status
        if profile.name == "newapi":
            if status == 429:
                message = "当前分组上游负载已饱和，请稍后再试"
            return {"code": code or "fail_to_fetch_task", "message": message, "data": None}, status
        return openai_error(status, message, param, code)

    return error


def _respond(body_status, headers: dict | None = None):
    body, status = body_status
    resp = jsonify(body)
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


# ---- ids ------------------------------------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits


def public_id(profile: Profile, job_id: str) -> str:
    if profile.name == "newapi":
        return job_id  # minted as task_… at creation
    if profile.name == "litellm":
        inner = f"litellm:custom_llm_provider:openai;model_id:sora-2;video_id:{job_id}"
        return "video_" + base64.b64encode(inner.encode()).decode()
    return job_id


def inner_id(profile: Profile, public: str) -> str | None:
    if profile.name != "litellm":
        return public
    try:
        text = base64.b64decode(public[len("video_") :] + "==").decode()
    except (ValueError, UnicodeDecodeError):
        return None
    _, _, rest = text.partition("video_id:")
    return rest.split(";", 1)[0] or None


def _new_job_id(profile: Profile) -> str | None:
    if profile.name == "newapi":
        return "task_" + "".join(secrets.choice(_ALNUM) for _ in range(32))
    return None


# ---- the video object ---------------------------------------------------------------------


def video_json(job, profile: Profile) -> dict:
    st = state()
    phase, progress = job.phase(st.now())
    done = phase in ("completed", "failed", "cancelled")
    body = {
        "id": public_id(profile, job.id),
        "object": "video",
        "created_at": int(job.created),
        "model": job.model,
        "progress": 100 if phase == "completed" else progress,
        "seconds": str(job.seconds),
        "size": job.size,
        "status": "failed" if phase == "cancelled" else phase,
        "completed_at": int(job.done_at) if done else None,
        "expires_at": int(job.done_at + float(st.config["EXPIRE_SECONDS"]))
        if phase == "completed"
        else None,
        "error": _error_of(job, phase),
        "prompt": job.prompt,
        "remixed_from_video_id": public_id(profile, job.remixed_from) if job.remixed_from else None,
    }
    if phase == "cancelled" and job.cancelled_at:
        body["completed_at"] = int(job.cancelled_at)
    if profile.name == "newapi":
        body = {k: v for k, v in body.items() if v is not None and k != "prompt"}
        body["task_id"] = body["id"]
    elif profile.name == "litellm":
        body.pop("prompt")
        body["usage"] = None
    return body


def _error_of(job, phase: str) -> dict | None:
    if phase == "failed" and job.fail_kind == "policy":
        return {
            "code": "moderation_blocked",
            "message": "Your request was blocked by our moderation system.",
        }
    if phase == "failed":
        return {"code": "internal_error", "message": "Video generation failed. Please try again."}
    if phase == "cancelled":
        return {"code": "cancelled", "message": "The job was cancelled."}
    return None


# ---- the blueprint --------------------------------------------------------------------------


def make_blueprint(name: str, prefix: str, profile_name: str = "openai") -> Blueprint:
    profile = PROFILES[profile_name]
    bp = Blueprint(name, __name__, url_prefix=prefix)
    error = _error_for(profile)

    def fail(status, message, param=None, code=None, headers=None):
        return _respond(error(status, message, param, code), headers)

    def invalid_url():
        """How new-api and a relay answer a route they do not have."""
        body = {
            "error": {
                "message": f"Invalid URL ({request.method} {request.path})",
                "type": "invalid_request_error",
                "param": "",
                "code": "",
            }
        }
        return jsonify(body), 404

    @bp.before_request
    def _check():
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else header
        if profile.name == "newapi" and token.startswith("sk-"):
            token = token[3:]
        if not key_ok(token.strip()):
            if profile.name == "newapi":
                body = {
                    "error": {
                        "message": "Invalid token (request id: sim)",
                        "type": "new_api_error",
                        "code": "",
                    }
                }
                return jsonify(body), 401
            return fail(401, "Incorrect API key provided.", code="invalid_api_key")
        return None

    def guarded(op):
        return guard(op, "openai", error)

    def with_hint(resp):
        cfg = state().config
        if cfg.get("POLL_AFTER_MS") and profile.name == "openai":
            resp.headers["openai-poll-after-ms"] = str(cfg["POLL_AFTER_MS"])
        return resp

    def _fields() -> tuple[dict | None, object]:
        """The create body: the SDK always sends multipart; JSON is accepted too."""
        if request.is_json:
            data = request.get_json(silent=True)
            return (data if isinstance(data, dict) else None), None
        return request.form.to_dict(), request.files.get("input_reference")

    def validate(data: dict, upload):
        prompt = data.get("prompt")
        if not isinstance(prompt, str) or not 1 <= len(prompt) <= 32000:
            code = "invalid_request" if profile.name == "newapi" else "invalid_value"
            return None, fail(
                400, "Invalid 'prompt': string must be 1-32000 characters.", "prompt", code
            )
        model = data.get("model") or profile.default_model
        if not model:
            body = {
                "error": {
                    "message": "Model name not specified, model name cannot be empty",
                    "type": "new_api_error",
                    "code": "",
                }
            }
            return None, (jsonify(body), 400)
        seconds = str(data.get("seconds") or data.get("duration") or profile.default_seconds)
        if seconds not in profile.seconds:
            allowed = ", ".join(repr(a) for a in profile.seconds)
            return None, fail(
                400,
                f"Invalid value: '{seconds[:20]}'. Supported values are: {allowed}.",
                "seconds",
                "invalid_value",
            )
        size = data.get("size") or profile.default_size
        sizes = profile.sizes
        if "pro" not in str(model):
            sizes = tuple(s for s in sizes if s not in PRO_SIZES)
        if size not in sizes:
            allowed = ", ".join(repr(a) for a in sizes)
            return None, fail(
                400,
                f"Invalid value: '{str(size)[:20]}'. Supported values are: {allowed}.",
                "size",
                "invalid_value",
            )
        ref = data.get("input_reference")
        if isinstance(ref, dict) and sum(bool(ref.get(k)) for k in REF_KEYS) != 1:
            return None, fail(
                400,
                "Provide exactly one of 'image_url' or 'file_id'.",
                "input_reference",
                "invalid_value",
            )
        if upload is not None and upload.mimetype not in IMAGE_TYPES:
            return None, fail(
                400,
                "input_reference must be a JPEG, PNG or WebP image.",
                "input_reference",
                "invalid_value",
            )
        return (prompt, str(model), size, int(seconds)), None

    @bp.post("/videos")
    def create():
        st = state()
        denied, drop_after = guarded("create")
        if denied is not None:
            return denied
        data, upload = _fields()
        if data is None:
            return fail(400, "We could not parse the JSON body of your request.")
        fields, err = validate(data, upload)
        if err is not None:
            return err
        prompt, model, size, seconds = fields
        job = st.create(
            "openai", model, prompt, size, seconds, request.headers.get("Idempotency-Key"),
            job_id=_new_job_id(profile),
        )  # fmt: skip
        job.extra["profile"] = profile.name
        if drop_after:
            return drop_connection()
        return with_hint(jsonify(video_json(job, profile)))

    @bp.get("/videos")
    def list_videos():
        if not profile.listing:
            return invalid_url()
        st = state()
        denied, _ = guarded("list")
        if denied is not None:
            return denied
        ids = [
            i for i in st.ids("openai") if st.jobs[i].extra.get("profile", "openai") == profile.name
        ]
        if profile.name == "litellm":  # parameters are dropped on the way through
            page = ids[::-1]
            data = [video_json(st.jobs[i], profile) for i in page]
            first = data[0]["id"] if data else None
            last = data[-1]["id"] if data else None
            return jsonify(
                {
                    "object": "list",
                    "data": data,
                    "first_id": first,
                    "last_id": last,
                    "has_more": False,
                }
            )
        try:
            limit = int(request.args.get("limit", 20))
        except ValueError:
            return fail(400, "Invalid 'limit': expected an integer.", "limit", "invalid_value")
        if not 1 <= limit <= 100:
            return fail(
                400, "Invalid 'limit': must be between 1 and 100.", "limit", "invalid_value"
            )
        order = request.args.get("order", "desc")
        if order not in ("asc", "desc"):
            return fail(400, f"Invalid value: '{order[:20]}'.", "order", "invalid_value")
        if order == "desc":
            ids = ids[::-1]
        after = request.args.get("after")
        if after:
            if after not in ids:
                return fail(
                    404, f"Video with id '{after[:64]}' not found.", "after", "video_not_found"
                )
            ids = ids[ids.index(after) + 1 :]
        page = ids[:limit]
        return jsonify(
            {
                "object": "list",
                "data": [video_json(st.jobs[i], profile) for i in page],
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
                "has_more": len(ids) > limit,
            }
        )

    def _job(public):
        job_id = inner_id(profile, public)
        job = state().get(job_id) if job_id else None
        if (
            job is None
            or job.protocol != "openai"
            or job.extra.get("profile", "openai") != profile.name
        ):
            if profile.name == "newapi":
                return None, (
                    jsonify({"code": "task_not_exist", "message": "task_not_exist", "data": None}),
                    400,
                )
            return None, fail(
                404, f"Video with id '{public[:64]}' not found.", code="video_not_found"
            )
        return job, None

    @bp.get("/videos/<video_id>")
    def retrieve(video_id):
        denied, _ = guarded("status")
        if denied is not None:
            return denied
        latency()
        job, err = _job(video_id)
        if err:
            return err
        return with_hint(jsonify(video_json(job, profile)))

    @bp.delete("/videos/<video_id>")
    def delete(video_id):
        if not profile.deleting:
            if profile.name == "litellm":
                return jsonify({"detail": "Method Not Allowed"}), 405
            return invalid_url()
        st = state()
        denied, _ = guarded("delete")
        if denied is not None:
            return denied
        job, err = _job(video_id)
        if err:
            return err
        st.cancel(job)  # deleting a running job stops it (the protocol has no cancel)
        job.deleted = True
        return jsonify({"id": video_id, "object": "video.deleted", "deleted": True})

    @bp.post("/videos/<video_id>/remix")
    def remix(video_id):
        st = state()
        denied, drop_after = guarded("remix")
        if denied is not None:
            return denied
        job, err = _job(video_id)
        if err:
            return err
        if job.phase(st.now())[0] != "completed":
            return fail(400, "Only completed videos can be remixed.", code="invalid_state")
        data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        prompt = (data or {}).get("prompt")
        if not isinstance(prompt, str) or not 1 <= len(prompt) <= 32000:
            return fail(
                400,
                "Invalid 'prompt': string must be 1-32000 characters.",
                "prompt",
                "invalid_value",
            )
        new = st.create(
            "openai", job.model, prompt, job.size, job.seconds,
            request.headers.get("Idempotency-Key"), remixed_from=job.id, job_id=_new_job_id(profile),
        )  # fmt: skip
        new.extra["profile"] = profile.name
        if drop_after:
            return drop_connection()
        return jsonify(video_json(new, profile))

    @bp.get("/videos/<video_id>/content")
    def content(video_id):
        st = state()
        denied, _ = guarded("content")
        if denied is not None:
            return denied
        job, err = _job(video_id)
        if err:
            return err
        if job.phase(st.now())[0] != "completed":
            return fail(400, "Video is not ready yet.", code="video_not_ready")
        if st.is_expired(job):
            return fail(
                404,
                "The video is no longer available. Downloads expire after 1 hour.",
                code="video_expired",
            )
        variant = request.args.get("variant", "video") if profile.variants else "video"
        if variant not in ("video", "thumbnail", "spritesheet"):
            return fail(400, f"Invalid value: '{variant[:20]}'.", "variant", "invalid_value")
        return file_response(job, variant)

    return bp


def register(app) -> None:
    for name, prefix in PREFIXES.items():
        app.register_blueprint(make_blueprint(f"sim_openai_{name}", prefix, name))
