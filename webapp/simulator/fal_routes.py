"""The fal.ai queue shape, under /fal (the real host is queue.fal.run)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .common import apply_fault, base_url, drop_connection, file_response, key_ok, latency, state

bp = Blueprint("sim_fal", __name__, url_prefix="/fal")


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


@bp.post("/<path:model>")
def create(model):
    st = state()
    st.count("create")
    fault = apply_fault("create", "fal", error)
    if fault is not None and not isinstance(fault, tuple):
        return fault
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str) or not data["prompt"]:
        return jsonify(
            {
                "detail": [
                    {
                        "loc": ["body", "prompt"],
                        "msg": "field required",
                        "type": "value_error.missing",
                    }
                ]
            }
        ), 422
    parts = model.split("/")
    app = "/".join(parts[:2])
    media = "image" if "image" in parts[-1] and "video" not in model else "video"
    size = {"16:9": "1280x720", "9:16": "720x1280", "1:1": "1024x1024"}.get(
        data.get("aspect_ratio"), "1280x720"
    )
    seconds = int(str(data.get("duration") or "5").rstrip("s") or 5)
    job = st.create(
        "fal",
        model,
        data["prompt"],
        size,
        seconds,
        request.headers.get("Idempotency-Key"),
        media=media,
    )
    job.extra["app"] = app
    if isinstance(fault, tuple):
        return drop_connection()
    return jsonify(
        {"status": "IN_QUEUE", "request_id": job.id, "queue_position": 0, **_urls(app, job.id)}
    )


def _job(rid):
    job = state().get(rid)
    return job if job is not None and job.protocol == "fal" else None


@bp.get("/<owner>/<app>/requests/<rid>/status")
def status(owner, app, rid):
    st = state()
    st.count("status")
    fault = apply_fault("status", "fal", error)
    if fault is not None and not isinstance(fault, tuple):
        return fault
    latency()
    job = _job(rid)
    if job is None:
        return jsonify({"detail": "Request not found"}), 404
    phase, _ = job.phase(st.now())
    word = {"queued": "IN_QUEUE", "in_progress": "IN_PROGRESS"}.get(phase, "COMPLETED")
    body = {"status": word, "request_id": rid, **_urls(f"{owner}/{app}", rid), "logs": []}
    if word == "IN_QUEUE":
        body["queue_position"] = 0
    if word == "COMPLETED":
        body["metrics"] = {"inference_time": job.run_s}
    return jsonify(body), 200 if word == "COMPLETED" else 202


@bp.get("/<owner>/<app>/requests/<rid>")
def result(owner, app, rid):
    st = state()
    st.count("result")
    job = _job(rid)
    if job is None:
        return jsonify({"detail": "Request not found"}), 404
    phase, _ = job.phase(st.now())
    if phase in ("queued", "in_progress"):
        return jsonify({"detail": "Request is still in progress"}), 400
    if phase == "cancelled":
        return jsonify({"detail": "Request was cancelled"}), 400
    if phase == "failed":
        resp = jsonify(
            {
                "detail": [
                    {
                        "loc": ["body", "prompt"],
                        "msg": "The content could not be processed because it contained material flagged by a content checker.",
                        "type": "content_policy_violation",
                    }
                ]
            }
        )
        resp.status_code = 422
        resp.headers["X-Fal-Error-Type"] = "content_policy_violation"
        return resp
    url = f"{base_url()}/files/{rid}/{'image.png' if job.media == 'image' else 'video.mp4'}"
    if job.media == "image":
        return jsonify(
            {"images": [{"url": url, "content_type": "image/png", "width": 1024, "height": 1024}]}
        )
    return jsonify(
        {
            "video": {
                "url": url,
                "content_type": "video/mp4",
                "file_name": "video.mp4",
                "file_size": None,
            }
        }
    )


@bp.put("/<owner>/<app>/requests/<rid>/cancel")
def cancel(owner, app, rid):
    st = state()
    st.count("cancel")
    job = _job(rid)
    if job is None:
        return jsonify({"status": "NOT_FOUND"}), 404
    if job.phase(st.now())[0] in ("completed", "failed"):
        return jsonify({"status": "ALREADY_COMPLETED"}), 400
    job.cancelled_at = st.now()
    return jsonify({"status": "CANCELLATION_REQUESTED"}), 202


def public_file(job, name):
    """fal CDN files are public URLs."""
    if job.media == "image":
        return file_response(job, "image")
    return file_response(job, "video")
