"""Test-only control routes (/_sim/...): configuration, faults, clock, counters.
No auth: the simulator is a local test tool; bind it to localhost."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from . import fal_routes
from .common import file_response, key_ok, state

bp = Blueprint("sim_control", __name__)


@bp.post("/_sim/reset")
def reset():
    state().reset()
    return jsonify({"ok": True})


@bp.route("/_sim/config", methods=["GET", "POST"])
def config():
    st = state()
    if request.method == "POST":
        data = request.get_json(silent=True) or {}
        with st.lock:
            st.config.update({k: v for k, v in data.items() if k in st.config and k != "API_KEY"})
    return jsonify({k: v for k, v in st.config.items() if k != "API_KEY"})


@bp.post("/_sim/faults")
def faults():
    data = request.get_json(silent=True)
    items = data if isinstance(data, list) else [data]
    st = state()
    with st.lock:
        st.faults.extend(dict(f) for f in items if isinstance(f, dict))
    return jsonify({"queued": len(st.faults)})


@bp.get("/_sim/stats")
def stats():
    return jsonify(state().stats())


@bp.post("/_sim/advance")
def advance():
    state().advance(float((request.get_json(silent=True) or {}).get("seconds", 0)))
    return jsonify({"ok": True})


@bp.post("/_sim/jobs/<job_id>/expire")
def expire(job_id):
    job = state().jobs.get(job_id)
    if job is None:
        return jsonify({"error": "no such job"}), 404
    job.expired = True
    return jsonify({"ok": True})


@bp.get("/files/<job_id>/<name>")
def files(job_id, name):
    """Result files. Replicate's need the token; fal's CDN and Google's storage redirect
    target are public (unguessable ids)."""
    st = state()
    st.count("file")
    job = st.get(job_id)
    if job is None or st.is_expired(job) or job.phase(st.now())[0] != "completed":
        return Response("Not found", status=404)
    if job.protocol == "replicate":
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        if not key_ok(token):
            return Response("Unauthorized", status=401)
    if job.protocol == "fal":
        return fal_routes.public_file(job, name)
    return file_response(job, "image" if job.media == "image" else "video")


@bp.get("/")
def index():
    return jsonify(
        {
            "simulator": "reelay",
            "protocols": {
                "openai": ["/v1/videos", "/sora/v1/videos"],
                "fal": "/fal/{owner}/{app}",
                "replicate": "/v1/predictions",
                "gemini": "/v1beta/models/{model}:predictLongRunning",
            },
        }
    )
