"""The fal.ai queue shape, under /fal (the real host is queue.fal.run).

Like fal, a failed request still reports COMPLETED on its status URL, with ``error`` and
``error_type``; the result fetch replays the failure (422 ``{"detail": [...]}`` for
content policy, 503 with ``error_type`` for a runner that went away, both with
``X-Fal-Error-Type``). Status is 202 while queued or running, 200 when completed; logs
are filled only for ``?logs=1|true``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .common import (
    base_url,
    cached_size,
    drop_connection,
    file_response,
    guard,
    key_ok,
    latency,
    state,
)

bp = Blueprint("sim_fal", __name__, url_prefix="/fal")
IMAGE_HINTS = ("flux", "imagen", "image", "sdxl", "stable-diffusion", "recraft", "ideogram")
ASPECTS = {"16:9": "1280x720", "9:16": "720x1280", "1:1": "1024x1024"}


def error(status, message):
    return {"detail": message}, status


@bp.before_request
def _auth():
    header = request.headers.get("Authorization", "")
    if not (header.startswith("Key ") and key_ok(header[4:].strip())):
        return jsonify({"detail": "Unauthorized"}), 401
    return None


def _urls(app: str, rid: str) -> dict:
    root = f"{base_url()}/fal/{app}/requests/{rid}"
    return {"response_url": root, "status_url": root + "/status", "cancel_url": root + "/cancel"}


def _is_image(model: str) -> bool:
    low = model.lower()
    return "video" not in low and any(h in low for h in IMAGE_HINTS)


@bp.post("/<path:model>")
def create(model):
    st = state()
    denied, drop_after = guard("create", "fal", error)
    if denied is not None:
        return denied
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str) or not data["prompt"]:
        missing = {"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}
        return jsonify({"detail": [missing]}), 422
    parts = model.split("/")
    if len(parts) < 2:
        return jsonify({"detail": "Application not found"}), 404
    app = "/".join(parts[:2])
    try:
        seconds = int(str(data.get("duration") or "5").rstrip("s") or 5)
    except ValueError:
        bad = {"loc": ["body", "duration"], "msg": "invalid duration", "type": "value_error"}
        return jsonify({"detail": [bad]}), 422
    job = st.create(
        "fal",
        model,
        data["prompt"],
        ASPECTS.get(data.get("aspect_ratio"), "1280x720"),
        seconds,
        request.headers.get("Idempotency-Key"),
        media="image" if _is_image(model) else "video",
    )
    job.extra.update(app=app, input=data)
    if drop_after:
        return drop_connection()
    return jsonify(
        {"status": "IN_QUEUE", "request_id": job.id, "queue_position": 0, **_urls(app, job.id)}
    )


def _job(rid):
    job = state().get(rid)
    return job if job is not None and job.protocol == "fal" else None


def _not_found():
    return jsonify({"detail": "Request not found"}), 404


@bp.get("/<owner>/<app>/requests/<rid>/status")
def status(owner, app, rid):
    st = state()
    denied, _ = guard("status", "fal", error)
    if denied is not None:
        return denied
    latency()
    job = _job(rid)
    if job is None:
        return _not_found()
    phase, _ = job.phase(st.now())
    word = {"queued": "IN_QUEUE", "in_progress": "IN_PROGRESS"}.get(phase, "COMPLETED")
    body = {"status": word, "request_id": rid, **_urls(f"{owner}/{app}", rid)}
    if word == "IN_QUEUE":
        body["queue_position"] = 0
    else:
        wanted = request.args.get("logs", "").lower() in ("1", "true")
        body["logs"] = _logs(job) if wanted else None
        body["metrics"] = {}
    if word == "COMPLETED":
        body["metrics"] = {"inference_time": job.run_s}
        if phase == "failed":
            kind, message = _failure_kind(job)
            body.update(error=message, error_type=kind)
    return jsonify(body), 200 if word == "COMPLETED" else 202


def _logs(job) -> list[dict]:
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(job.created + job.queue_s, UTC).isoformat().replace("+00:00", "Z")
    return [{"message": "Generating...", "level": "INFO", "source": "USER", "timestamp": at}]


def _failure_kind(job) -> tuple[str, str]:
    if job.fail_kind == "policy":
        return "content_policy_violation", (
            "The content could not be processed because it contained material "
            "flagged by a content checker."
        )
    return "runner_disconnected", "The runner disconnected before finishing the request."


@bp.get("/<owner>/<app>/requests/<rid>")
def result(owner, app, rid):
    st = state()
    denied, _ = guard("content", "fal", error)
    if denied is not None:
        return denied
    job = _job(rid)
    if job is None:
        return _not_found()
    phase, _ = job.phase(st.now())
    if phase in ("queued", "in_progress"):
        return jsonify({"detail": "Request is still in progress"}), 400
    if phase == "cancelled":
        return jsonify({"detail": "Request was cancelled", "error_type": "cancelled"}), 400
    if phase == "failed":
        return _failure(job)
    ext = "png" if job.media == "image" else "mp4"
    url = f"{base_url()}/files/{rid}/output.{ext}"
    if job.media == "image":
        from .media import dims

        w, h = dims(job.size)
        image = {"url": url, "content_type": "image/png", "file_name": "output.png"}
        return jsonify(
            {
                "images": [{**image, "width": w, "height": h}],
                "seed": 42,
                "timings": {"inference": job.run_s},
                "has_nsfw_concepts": [False],
                "prompt": job.prompt,
            }
        )
    video = {"url": url, "content_type": "video/mp4", "file_name": "output.mp4"}
    return jsonify({"video": {**video, "file_size": cached_size(job)}})


def _failure(job):
    kind, message = _failure_kind(job)
    if kind == "content_policy_violation":
        item = {"loc": ["body", "prompt"], "msg": message, "type": kind}
        resp = jsonify({"detail": [item]})
        resp.status_code = 422
    else:
        resp = jsonify({"detail": message, "error_type": kind})
        resp.status_code = 503  # runner_* errors are 503 (fal's request-errors page)
    resp.headers["X-Fal-Error-Type"] = kind
    return resp


@bp.put("/<owner>/<app>/requests/<rid>/cancel")
def cancel(owner, app, rid):
    st = state()
    denied, _ = guard("cancel", "fal", error)
    if denied is not None:
        return denied
    job = _job(rid)
    if job is None:
        return jsonify({"status": "NOT_FOUND"}), 404
    if not st.cancel(job):
        return jsonify({"status": "ALREADY_COMPLETED"}), 400
    return jsonify({"status": "CANCELLATION_REQUESTED"}), 202


def public_file(job, name):
    """fal CDN files are public URLs (unguessable ids, no key)."""
    return file_response(job, "image" if job.media == "image" else "video")
