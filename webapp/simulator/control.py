"""Test-only control routes (/_sim/...): configuration, faults, clock, counters.
No auth: the simulator is a local test tool; bind it to localhost."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from . import fal_routes
from .common import file_response, guard, key_ok, state

bp = Blueprint("sim_control", __name__)
KINDS = (
    "429",
    "500",
    "502",
    "503",
    "slow",
    "drop",
    "drop_after_create",
    "malformed",
    "malformed_content",
)


@bp.post("/_sim/reset")
def reset():
    state().reset()
    return jsonify({"ok": True})


@bp.route("/_sim/config", methods=["GET", "POST"])
def config():
    st = state()
    if request.method == "POST":
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return jsonify({"error": "expected a JSON object"}), 400
        st.update_config(data)
    with st.lock:  # the key is not echoed: callers already know it
        return jsonify({k: v for k, v in st.config.items() if k != "API_KEY"})


@bp.route("/_sim/faults", methods=["GET", "POST", "DELETE"])
def faults():
    """POST a fault or a list of faults (queued, consumed in order); GET the pending
    ones; DELETE clears them."""
    st = state()
    if request.method == "POST":
        data = request.get_json(silent=True)
        items = data if isinstance(data, list) else [data]
        bad = [f for f in items if not isinstance(f, dict) or str(f.get("kind")) not in KINDS]
        if bad:
            return jsonify({"error": f"unknown fault kind; expected one of {KINDS}"}), 400
        return jsonify({"queued": st.add_faults(items)})
    with st.lock:
        if request.method == "DELETE":
            st.faults.clear()
        return jsonify({"queued": len(st.faults), "faults": list(st.faults)})


@bp.get("/_sim/stats")
def stats():
    return jsonify(state().stats())


@bp.get("/_sim/ledger")
def ledger():
    return jsonify({"jobs": state().ledger()})


@bp.post("/_sim/advance")
def advance():
    state().advance(float((request.get_json(silent=True) or {}).get("seconds", 0)))
    return jsonify({"ok": True})


@bp.post("/_sim/jobs/<job_id>/expire")
def expire(job_id):
    if not state().expire(job_id):
        return jsonify({"error": "no such job"}), 404
    return jsonify({"ok": True})


@bp.get("/files/<job_id>/<name>")
def files(job_id, name):
    """Result files. Replicate's need the token; fal's CDN and Google's storage redirect
    target are public (unguessable ids)."""
    st = state()
    job = st.get(job_id)
    if job is None:
        return Response("Not found", status=404)
    denied, _ = guard("content", job.protocol, _file_error)
    if denied is not None:
        return denied
    if st.is_expired(job) or job.phase(st.now())[0] != "completed":
        return Response("Not found", status=404)
    if job.protocol == "replicate":
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        if not key_ok(token):
            return Response("Unauthorized", status=401)
    if job.protocol == "fal":
        return fal_routes.public_file(job, name)
    return file_response(job, "image" if job.media == "image" else "video")


def _file_error(status, message):
    return {"detail": message}, status


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
