"""The Replicate predictions shape (/v1/predictions, /v1/models/{o}/{n}/predictions).

Outputs are served by the simulator (``/files/...``, token required like
replicate.delivery) and disappear after EXPIRE_SECONDS: ``output`` turns null and
``data_removed`` true, as Replicate does after its one-hour retention. With
``REPLICATE_DATA_OUTPUTS`` on, outputs are ``data:`` URLs instead (the official client
wraps only https: and data: outputs as files, and the simulator speaks plain http).
``Prefer: wait[=n]`` holds a create until the prediction ends or n seconds pass (n ≤ 60),
then answers whatever state it is in, reporting one still running as ``starting``.
422s carry ``invalid_fields``.
"""

from __future__ import annotations

import base64
import re
import time
from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from . import media
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


def _problem(status, title, detail, invalid=None):
    body = {"title": title, "detail": detail, "status": status}
    if invalid is not None:
        body["invalid_fields"] = invalid
    return jsonify(body), status


def _invalid(field: str, kind: str, description: str):
    """Replicate's input-validation 422 (error_422_input_validation.json)."""
    return _problem(
        422,
        "Input validation failed",
        f"- {field}: {description}\n",
        [{"type": kind, "field": field, "description": description}],
    )


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
        body["output"] = _output(job)
    if phase == "failed":
        body["error"] = (
            "NSFW content detected. Try running it again, or try a different prompt."
            if job.fail_kind == "policy"
            else "Prediction failed: CUDA error: an illegal memory access was encountered"
        )
    return body


def _output(job):
    if st_config("REPLICATE_DATA_OUTPUTS"):
        if job.media == "image":
            png = media.image_png(job.prompt, job.size)
            return ["data:image/png;base64," + base64.b64encode(png).decode()]
        mp4 = media.video_assets(job.prompt, job.size, job.seconds)["video"]
        return "data:video/mp4;base64," + base64.b64encode(mp4).decode()
    if job.media == "image":
        return [f"{base_url()}/files/{job.id}/out-0.png"]
    return f"{base_url()}/files/{job.id}/output.mp4"


def st_config(key):
    return state().config.get(key)


_WAIT = re.compile(r"\s*wait(?:\s*=\s*(\d+))?\s*$")


def _wait_seconds() -> float | None:
    match = _WAIT.match(request.headers.get("Prefer", ""))
    if not match:
        return None
    return float(min(max(int(match.group(1) or 60), 1), 60))


def _hold(job, seconds: float) -> dict:
    """``Prefer: wait``: hold until the prediction ends or the wait runs out."""
    st = state()
    end = time.monotonic() + seconds
    while time.monotonic() < end and job.phase(st.now())[0] in ("queued", "in_progress"):
        time.sleep(0.05)
    body = prediction(job)
    if body["status"] == "processing":
        body["status"] = "starting"  # what Replicate reports when the wait is exceeded
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
        return _invalid("input", "required", "input is required")
    version = data.get("version")
    if model is None:
        if not isinstance(version, str) or not version:
            return _invalid("version", "required", "version is required")
        model = version.split(":")[0] if "/" in version else "unknown/unknown"
    inp = data["input"]
    if not isinstance(inp.get("prompt"), str) or not inp["prompt"]:
        return _invalid("input", "required", "prompt is required")
    try:
        seconds = int(inp.get("duration") or 5)
    except (TypeError, ValueError):
        return _invalid("input.duration", "type", "Invalid type. Expected: integer, given: string")
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
    wait = _wait_seconds()
    return jsonify(prediction(job) if wait is None else _hold(job, wait)), 201


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
