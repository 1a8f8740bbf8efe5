"""The Gemini API shape: Veo via predictLongRunning + operations, images via generateContent."""

from __future__ import annotations

import base64
import uuid

from flask import Blueprint, jsonify, redirect, request

from . import media
from .common import apply_fault, base_url, drop_connection, key_ok, latency, state

bp = Blueprint("sim_gemini", __name__, url_prefix="/v1beta")
STATUS_WORDS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
}


def error(status, message):
    return {
        "error": {"code": status, "message": message, "status": STATUS_WORDS.get(status, "UNKNOWN")}
    }, status


def fail(status, message):
    body, status = error(status, message)
    return jsonify(body), status


@bp.before_request
def _auth():
    key = request.headers.get("x-goog-api-key") or request.args.get("key")
    if not key_ok(key):
        return fail(401, "API key not valid. Please pass a valid API key.")
    return None


@bp.get("/models")
def models():
    return jsonify(
        {
            "models": [
                {"name": "models/veo-3.1-generate-preview"},
                {"name": "models/gemini-3.1-flash-image"},
            ]
        }
    )


@bp.post("/models/<model>:predictLongRunning")
def predict(model):
    st = state()
    st.count("create")
    fault = apply_fault("create", "gemini", error)
    if fault is not None and not isinstance(fault, tuple):
        return fault
    data = request.get_json(silent=True) or {}
    instances = data.get("instances") or [{}]
    prompt = (instances[0] or {}).get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return fail(400, "* GenerateVideoRequest.instances[0].prompt: prompt is required.")
    params = data.get("parameters") or {}
    seconds = int(params.get("durationSeconds") or 8)
    if seconds not in (4, 6, 8):
        return fail(
            400,
            "The number value for `durationSeconds` is out of bound. Please provide a value between 4 and 8, inclusive.",
        )
    size = {"9:16": "720x1280"}.get(params.get("aspectRatio"), "1280x720")
    job = st.create("gemini", model, prompt, size, seconds, request.headers.get("Idempotency-Key"))
    if isinstance(fault, tuple):
        return drop_connection()
    return jsonify({"name": f"models/{model}/operations/{job.id}"})


@bp.get("/models/<model>/operations/<op>")
def operation(model, op):
    st = state()
    st.count("status")
    fault = apply_fault("status", "gemini", error)
    if fault is not None and not isinstance(fault, tuple):
        return fault
    latency()
    job = st.get(op)
    if job is None or job.protocol != "gemini":
        return fail(404, f"Operation models/{model}/operations/{op} not found.")
    phase, progress = job.phase(st.now())
    name = f"models/{model}/operations/{op}"
    if phase in ("queued", "in_progress"):
        return jsonify(
            {
                "name": name,
                "metadata": {
                    "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningMetadata"
                },
            }
        )
    gvr: dict = {}
    if phase == "failed":
        gvr = {
            "raiMediaFilteredCount": 1,
            "raiMediaFilteredReasons": [
                "We encountered an issue with the audio or video for your prompt. You have not been charged for this request."
            ],
        }
    else:
        gvr = {
            "generatedSamples": [
                {"video": {"uri": f"{base_url()}/v1beta/files/{op}:download?alt=media"}}
            ]
        }
    return jsonify(
        {
            "name": name,
            "done": True,
            "response": {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                "generateVideoResponse": gvr,
            },
        }
    )


@bp.get("/files/<fid>:download")
def download(fid):
    st = state()
    st.count("content")
    job = st.get(fid)
    if job is None or job.protocol != "gemini" or st.is_expired(job):
        return fail(404, "File not found or expired.")
    # Google answers with a redirect to the storage host; the key must not follow it.
    return redirect(f"{base_url()}/files/{fid}/video.mp4", 302)


@bp.post("/models/<model>:generateContent")
def generate(model):
    st = state()
    st.count("create")
    fault = apply_fault("create", "gemini", error)
    if fault is not None and not isinstance(fault, tuple):
        return fault
    data = request.get_json(silent=True) or {}
    parts = ((data.get("contents") or [{}])[0] or {}).get("parts") or []
    prompt = next((p.get("text") for p in parts if isinstance(p, dict) and p.get("text")), None)
    if not prompt:
        return fail(400, "* GenerateContentRequest.contents: contents is not specified")
    job = st.create(
        "gemini",
        model,
        prompt,
        "1024x1024",
        0,
        request.headers.get("Idempotency-Key"),
        media="image",
    )
    if isinstance(fault, tuple):
        return drop_connection()
    if "[fail]" in prompt:
        return jsonify(
            {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": job.id}
        )
    png = media.image_png(prompt, "1024x1024")
    return jsonify(
        {
            "responseId": job.id,
            "modelVersion": model,
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "Here is your image."},
                            {
                                "inlineData": {
                                    "mimeType": "image/png",
                                    "data": base64.b64encode(png).decode(),
                                }
                            },
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": len(prompt.split())},
        }
    )


def new_id() -> str:
    return uuid.uuid4().hex[:12]
