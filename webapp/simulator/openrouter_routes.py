"""OpenRouter's video API (``/api/v1/videos``), as the official ``openrouter`` SDK reads it.

Four endpoints and no others (no cancel, no list): POST answers **202** ``{id,
polling_url, status: "pending"}``; a job goes pending → in_progress → completed | failed
| cancelled | expired, always HTTP 200, with ``error`` a plain string; content is
``video/mp4`` bytes behind the same Bearer key; the models list carries every key the
SDK requires. Errors are ``{"error": {"code": <int status>, "message": …}}``.
"""

from __future__ import annotations

import base64

from flask import Blueprint, jsonify, request

from .common import base_url, drop_connection, file_response, guard, key_ok, latency, state

bp = Blueprint("sim_openrouter", __name__, url_prefix="/api/v1")

PRICE_PER_SECOND = 0.1
MODELS = {
    "google/veo-3.1": {
        "name": "Google: Veo 3.1",
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_durations": [4, 6, 8],
        "supported_resolutions": ["720p", "1080p"],
        "supported_sizes": ["1280x720", "720x1280", "1920x1080", "1080x1920"],
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
    },
    "openai/sora-2": {
        "name": "OpenAI: Sora 2",
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_durations": [4, 8, 12],
        "supported_resolutions": ["720p"],
        "supported_sizes": ["1280x720", "720x1280"],
        "supported_frame_images": ["first_frame"],
        "generate_audio": True,
        "seed": None,
    },
}
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}


def error(status: int, message: str):
    return {"error": {"code": status, "message": message}}, status


def fail(status: int, message: str):
    body, status = error(status, message)
    return jsonify(body), status


@bp.before_request
def _auth():
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    if not key_ok(token.strip()):
        return fail(401, "No auth credentials found")
    return None


def _model_json(model_id: str, spec: dict) -> dict:
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "name": spec["name"],
        "created": 1760000000,
        "description": f"{spec['name']} (simulated).",
        "allowed_passthrough_parameters": [],
        "creativity": None,
        "generate_audio": spec["generate_audio"],
        "seed": spec["seed"],
        "supported_aspect_ratios": spec["supported_aspect_ratios"],
        "supported_durations": spec["supported_durations"],
        "supported_frame_images": spec["supported_frame_images"],
        "supported_resolutions": spec["supported_resolutions"],
        "supported_sizes": spec["supported_sizes"],
        "upscale_factor": None,
        "hugging_face_id": None,
        "pricing_skus": {"video_seconds": f"{PRICE_PER_SECOND:.2f}"},
    }


@bp.get("/videos/models")
def models():
    return jsonify({"data": [_model_json(m, s) for m, s in MODELS.items()]})


def _size(spec: dict, data: dict) -> tuple[str | None, str | None]:
    """The frame size a request asks for, or an error message."""
    if data.get("size"):
        size = str(data["size"])
        return (
            (size, None) if size in spec["supported_sizes"] else (None, f"Unsupported size {size}")
        )
    resolution = data.get("resolution") or spec["supported_resolutions"][0]
    if resolution not in spec["supported_resolutions"]:
        return None, f"Unsupported resolution {resolution}"
    ratio = data.get("aspect_ratio") or "16:9"
    if ratio not in spec["supported_aspect_ratios"]:
        return None, f"Unsupported aspect ratio {ratio}"
    w, h = RESOLUTIONS.get(resolution, (1280, 720))
    return (f"{w}x{h}" if ratio != "9:16" else f"{h}x{w}"), None


def _frames_ok(frames) -> bool:
    if frames is None:
        return True
    if not isinstance(frames, list):
        return False
    for frame in frames:
        url = ((frame or {}).get("image_url") or {}).get("url") if isinstance(frame, dict) else None
        if not isinstance(url, str) or frame.get("frame_type") not in ("first_frame", "last_frame"):
            return False
        if url.startswith("data:"):
            try:
                base64.b64decode(url.split(",", 1)[1], validate=True)
            except (IndexError, ValueError):
                return False
    return True


@bp.post("/videos")
def create():
    st = state()
    denied, drop_after = guard("create", "openrouter", error)
    if denied is not None:
        return denied
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return fail(400, "Invalid JSON body")
    model = data.get("model")
    spec = MODELS.get(model) if isinstance(model, str) else None
    if spec is None:
        return fail(400, f"Model {model!r} is not a video model" if model else "model is required")
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return fail(400, "prompt is required for this model")
    duration = data.get("duration", spec["supported_durations"][0])
    if not isinstance(duration, int) or duration not in spec["supported_durations"]:
        allowed = ", ".join(str(d) for d in spec["supported_durations"])
        return fail(
            400, f"Invalid duration {duration} for model {model}. Supported durations: {allowed}"
        )
    size, problem = _size(spec, data)
    if problem:
        return fail(400, f"{problem} for model {model}")
    if not _frames_ok(data.get("frame_images")):
        return fail(400, "frame_images entries need an image_url.url and a frame_type")
    job = st.create(
        "openrouter", model, prompt, size, duration, request.headers.get("Idempotency-Key")
    )
    if drop_after:
        return drop_connection()
    return jsonify(
        {"id": job.id, "polling_url": f"/api/v1/videos/{job.id}", "status": "pending"}
    ), 202


STATUS = {"queued": "pending", "in_progress": "in_progress", "completed": "completed"}


def job_json(job) -> dict:
    st = state()
    phase, _progress = job.phase(st.now())
    body = {"id": job.id, "polling_url": f"/api/v1/videos/{job.id}"}
    if phase == "completed" and st.is_expired(job):
        return {**body, "status": "expired"}
    if phase == "failed":
        message = (
            "The provider rejected the prompt: content policy violation"
            if job.fail_kind == "policy"
            else "The provider failed to generate the video"
        )
        return {**body, "status": "failed", "generation_id": f"gen-{job.id[8:]}", "error": message}
    if phase == "cancelled":
        return {**body, "status": "cancelled"}
    body["status"] = STATUS[phase]
    if phase == "completed":
        content = f"{base_url()}/api/v1/videos/{job.id}/content?index=0"
        body.update(
            generation_id=f"gen-{job.id[8:]}",
            unsigned_urls=[content],
            expires_at=int(job.done_at + float(st.config["EXPIRE_SECONDS"])),
            usage={"cost": round(job.seconds * PRICE_PER_SECOND, 4), "is_byok": False},
        )
    return body


def _job(job_id):
    job = state().get(job_id)
    if job is None or job.protocol != "openrouter":
        return None, fail(404, "Video generation not found")
    return job, None


@bp.get("/videos/<job_id>")
def retrieve(job_id):
    denied, _ = guard("status", "openrouter", error)
    if denied is not None:
        return denied
    latency()
    job, err = _job(job_id)
    if err:
        return err
    return jsonify(job_json(job))


@bp.get("/videos/<job_id>/content")
def content(job_id):
    st = state()
    denied, _ = guard("content", "openrouter", error)
    if denied is not None:
        return denied
    job, err = _job(job_id)
    if err:
        return err
    try:
        index = int(request.args.get("index", 0))
    except ValueError:
        return fail(400, "index must be an integer")
    phase = job.phase(st.now())[0]
    if phase != "completed":
        return fail(409, "Video generation is not completed")
    if st.is_expired(job):
        return fail(410, "The video has expired")
    if index != 0:
        return fail(404, f"No video at index {index}")
    return file_response(job, "video")
