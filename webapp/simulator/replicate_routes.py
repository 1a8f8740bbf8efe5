"""The Replicate predictions shape (/v1/predictions, /v1/models/{o}/{n}/predictions)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from .common import apply_fault, base_url, drop_connection, key_ok, latency, state

bp = Blueprint("sim_replicate", __name__, url_prefix="/v1")


def error(status, message):
    return {"title": "Error", "detail": message, "status": status}, status


def _auth():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("bearer", "token") or not key_ok(token.strip()):
        return jsonify(
            {
                "title": "Unauthenticated",
                "detail": "You did not pass a valid authentication token",
                "status": 401,
            }
        ), 401
    return None


def _iso(ts):
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts else None


def prediction(job) -> dict:
    st = state()
    phase, _ = job.phase(st.now())
    word = {
        "queued": "starting",
        "in_progress": "processing",
        "completed": "succeeded",
        "failed": "failed",
        "cancelled": "canceled",
    }[phase]
    expired = phase == "completed" and st.is_expired(job)
    root = f"{base_url()}/v1/predictions/{job.id}"
    body = {
        "id": job.id,
        "model": job.model,
        "version": "hidden",
        "input": {"prompt": job.prompt},
        "logs": "",
        "output": None,
        "error": None,
        "status": word,
        "data_removed": expired,
        "created_at": _iso(job.created),
        "started_at": _iso(job.created + job.queue_s) if phase != "queued" else None,
        "completed_at": _iso(job.done_at) if phase in ("completed", "failed") else None,
        "urls": {"get": root, "cancel": root + "/cancel", "web": f"{base_url()}/p/{job.id}"},
    }
    if phase == "completed" and not expired:
        body["output"] = f"{base_url()}/files/{job.id}/video.mp4"
        body["metrics"] = {"predict_time": job.run_s, "total_time": job.queue_s + job.run_s}
    if phase == "failed":
        body["error"] = "NSFW content detected. Try running it again, or try a different prompt."
    return body


@bp.post("/predictions")
def create_versioned():
    return _create(None)


@bp.post("/models/<owner>/<name>/predictions")
def create_model(owner, name):
    return _create(f"{owner}/{name}")


def _create(model):
    denied = _auth()
    if denied:
        return denied
    st = state()
    st.count("create")
    fault = apply_fault("create", "replicate", error)
    if fault is not None and not isinstance(fault, tuple):
        return fault
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("input"), dict):
        return jsonify(
            {"title": "Invalid request", "detail": "input is required", "status": 422}
        ), 422
    inp = data["input"]
    if not isinstance(inp.get("prompt"), str) or not inp["prompt"]:
        return jsonify(
            {
                "title": "Input validation failed",
                "detail": "- input: prompt is required",
                "status": 422,
            }
        ), 422
    size = {"16:9": "1280x720", "9:16": "720x1280", "1:1": "1024x1024"}.get(
        inp.get("aspect_ratio"), "1280x720"
    )
    job = st.create(
        "replicate",
        model or str(data.get("version")),
        inp["prompt"],
        size,
        int(inp.get("duration") or 5),
        request.headers.get("Idempotency-Key"),
    )
    if isinstance(fault, tuple):
        return drop_connection()
    return jsonify(prediction(job)), 201


@bp.get("/predictions/<pid>")
def get(pid):
    denied = _auth()
    if denied:
        return denied
    st = state()
    st.count("status")
    fault = apply_fault("status", "replicate", error)
    if fault is not None and not isinstance(fault, tuple):
        return fault
    latency()
    job = st.get(pid)
    if job is None or job.protocol != "replicate":
        return jsonify({"title": "Not found", "detail": "Not found.", "status": 404}), 404
    return jsonify(prediction(job))


@bp.get("/predictions")
def list_predictions():
    denied = _auth()
    if denied:
        return denied
    st = state()
    st.count("list")
    ids = [i for i in reversed(st.order) if st.get(i) and st.jobs[i].protocol == "replicate"][:100]
    return jsonify(
        {"previous": None, "next": None, "results": [prediction(st.jobs[i]) for i in ids]}
    )


@bp.post("/predictions/<pid>/cancel")
def cancel(pid):
    denied = _auth()
    if denied:
        return denied
    st = state()
    st.count("cancel")
    job = st.get(pid)
    if job is None or job.protocol != "replicate":
        return jsonify({"title": "Not found", "detail": "Not found.", "status": 404}), 404
    if job.phase(st.now())[0] in ("queued", "in_progress"):
        job.cancelled_at = st.now()
    return jsonify(prediction(job))
