"""The Replicate predictions shape (/v1/predictions, /v1/models/{o}/{n}/predictions).

Outputs are served by the simulator (``/files/...``, token required like
replicate.delivery) and disappear after EXPIRE_SECONDS: ``output`` turns null and
``data_removed`` true, as Replicate does after its one-hour retention.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from .common import base_url, drop_connection, guard, key_ok, latency, state

bp = Blueprint("sim_replicate", __name__, url_prefix="/v1")
WORDS = {
    "queued": "starting",
    "in_progress": "processing",
    "completed": "succeeded",
    "failed": "failed",
    "cancelled": "canceled",
}
ASPECTS = {"16:9": "1280x720", "9:16": "720x1280", "1:1": "1024x1024"}
IMAGE_HINTS = ("flux", "image", "sdxl", "imagen", "stable-diffusion", "recraft", "ideogram")


def error(status, message):
    return {"title": "Error", "detail": message, "status": status}, status


def _problem(status, title, detail):
    return jsonify({"title": title, "detail": detail, "status": status}), status


def _auth():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "token") or not key_ok(token.strip()):
        return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")
    return None


def _iso(ts):
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts else None


def prediction(job) -> dict:
    st = state()
    phase, _ = job.phase(st.now())
    expired = phase == "completed" and st.is_expired(job)
    root = f"{base_url()}/v1/predictions/{job.id}"
    body = {
        "id": job.id,
        "model": job.model,
        "version": job.extra.get("version", "hidden"),
        "input": job.extra.get("input", {"prompt": job.prompt}),
        "logs": "" if phase == "queued" else "Generating...\n",
        "output": None,
        "error": None,
        "status": WORDS[phase],
        "source": "api",
        "data_removed": expired,
        "created_at": _iso(job.created),
        "started_at": _iso(job.created + job.queue_s) if phase != "queued" else None,
        "completed_at": _iso(job.done_at) if phase in ("completed", "failed") else None,
        "urls": {"get": root, "cancel": root + "/cancel", "web": f"{base_url()}/p/{job.id}"},
    }
    if phase == "cancelled":
        body["completed_at"] = _iso(job.cancelled_at)
    if phase in ("completed", "failed"):
        body["metrics"] = {"predict_time": job.run_s, "total_time": job.queue_s + job.run_s}
    if phase == "completed" and not expired:
        if job.media == "image":
            body["output"] = [f"{base_url()}/files/{job.id}/out-0.png"]
        else:
            body["output"] = f"{base_url()}/files/{job.id}/output.mp4"
    if phase == "failed":
        body["error"] = (
            "NSFW content detected. Try running it again, or try a different prompt."
            if job.fail_kind == "policy"
            else "Prediction failed: CUDA error: an illegal memory access was encountered"
        )
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
    denied, drop_after = guard("create", "replicate", error)
    if denied is not None:
        return denied
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("input"), dict):
        return _problem(422, "Invalid request", "input is required")
    version = data.get("version")
    if model is None:
        if not isinstance(version, str) or not version:
            return _problem(422, "Invalid request", "version is required")
        model = version.split(":")[0] if "/" in version else "unknown/unknown"
    inp = data["input"]
    if not isinstance(inp.get("prompt"), str) or not inp["prompt"]:
        return _problem(422, "Input validation failed", "- input: prompt is required")
    try:
        seconds = int(inp.get("duration") or 5)
    except (TypeError, ValueError):
        return _problem(422, "Input validation failed", "- input.duration: must be an integer")
    low = model.lower()
    job = st.create(
        "replicate",
        model,
        inp["prompt"],
        ASPECTS.get(inp.get("aspect_ratio"), "1280x720"),
        seconds,
        request.headers.get("Idempotency-Key"),
        media="image" if "video" not in low and any(h in low for h in IMAGE_HINTS) else "video",
    )
    job.extra.update(input=inp, version=version.split(":")[-1] if version else "hidden")
    if drop_after:
        return drop_connection()
    # ``Prefer: wait`` is accepted but not honoured: the prediction is returned at once.
    return jsonify(prediction(job)), 201


def _job(pid):
    job = state().get(pid)
    return job if job is not None and job.protocol == "replicate" else None


@bp.get("/predictions/<pid>")
def get(pid):
    denied = _auth()
    if denied:
        return denied
    denied, _ = guard("status", "replicate", error)
    if denied is not None:
        return denied
    latency()
    job = _job(pid)
    if job is None:
        return _problem(404, "Not found", "Not found.")
    return jsonify(prediction(job))


@bp.get("/predictions")
def list_predictions():
    """Newest first, cursor pagination (``?cursor=<id>``, 100 a page)."""
    denied = _auth()
    if denied:
        return denied
    st = state()
    denied, _ = guard("list", "replicate", error)
    if denied is not None:
        return denied
    ids = st.ids("replicate")[::-1]
    cursor = request.args.get("cursor")
    if cursor and cursor in ids:
        ids = ids[ids.index(cursor) + 1 :]
    page = ids[:100]
    nxt = f"{base_url()}/v1/predictions?cursor={page[-1]}" if len(ids) > 100 else None
    return jsonify(
        {"previous": None, "next": nxt, "results": [prediction(st.jobs[i]) for i in page]}
    )


@bp.post("/predictions/<pid>/cancel")
def cancel(pid):
    denied = _auth()
    if denied:
        return denied
    denied, _ = guard("cancel", "replicate", error)
    if denied is not None:
        return denied
    job = _job(pid)
    if job is None:
        return _problem(404, "Not found", "Not found.")
    state().cancel(job)
    return jsonify(prediction(job))
