"""The Gemini API shape: Veo via predictLongRunning + operations, images via generateContent."""

from __future__ import annotations

import base64

from flask import Blueprint, jsonify, redirect, request

from . import media
from .common import base_url, drop_connection, guard, key_ok, latency, state

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


IMAGE_MODELS = {"gemini-2.5-flash-image", "gemini-3.1-flash-image", "gemini-3-pro-image-preview"}
VEO_MODELS = {"veo-3.1-generate-preview", "veo-3.0-generate-001"}


def error(status, message, retry_after=None, details=None):
    body = {"code": status, "message": message, "status": STATUS_WORDS.get(status, "UNKNOWN")}
    if status == 429 and retry_after is not None:
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{int(retry_after)}s",
            },
            *(details or []),
        ]
    if details:
        body["details"] = details
    return {"error": body}, status


def fail(status, message, **kw):
    body, status = error(status, message, **kw)
    return jsonify(body), status


def _version() -> str:
    return request.path.split("/")[1]


@bp.before_request
def _auth():
    """A bad key is HTTP 400 INVALID_ARGUMENT with reason API_KEY_INVALID, not a 401."""
    key = request.headers.get("x-goog-api-key") or request.args.get("key")
    if not key_ok(key):
        return fail(
            400,
            "API key not valid. Please pass a valid API key.",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        )
    return None


def _unknown_model(model: str, method: str):
    return fail(
        404,
        f"models/{model} is not found for API version {_version()}, or is not supported for "
        f"{method}. Call ListModels to see the list of available models and their supported methods.",
    )


@bp.get("/models")
def models():
    return jsonify(
        {
            "models": [
                {"name": f"models/{m}", "supportedGenerationMethods": ["generateContent"]}
                for m in sorted(IMAGE_MODELS)
            ]
            + [
                {"name": f"models/{m}", "supportedGenerationMethods": ["predictLongRunning"]}
                for m in sorted(VEO_MODELS)
            ]
        }
    )


@bp.post("/models/<model>:predictLongRunning")
def predict(model):
    st = state()
    denied, drop_after = guard("create", "gemini", error)
    if denied is not None:
        return denied
    if model not in VEO_MODELS:
        return _unknown_model(model, "predictLongRunning")
    data = request.get_json(silent=True) or {}
    instances = data.get("instances") or [{}]
    prompt = (instances[0] or {}).get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return fail(400, "* GenerateVideoRequest.instances[0].prompt: prompt is required.")
    image = instances[0].get("image")
    if image is not None and not _valid_image(image):
        return fail(400, "* instances[0].image: bytesBase64Encoded and mimeType are required.")
    params = data.get("parameters") or {}
    try:
        seconds = int(params.get("durationSeconds") or 8)
    except (TypeError, ValueError):
        seconds = 0
    if seconds not in (4, 6, 8):
        return fail(
            400,
            "The number value for `durationSeconds` is out of bound. Please provide a value between 4 and 8, inclusive.",
        )
    size = {"9:16": "720x1280"}.get(params.get("aspectRatio"), "1280x720")
    job = st.create("gemini", model, prompt, size, seconds, request.headers.get("Idempotency-Key"))
    if drop_after:
        return drop_connection()
    return jsonify({"name": f"models/{model}/operations/{job.id}"})


@bp.get("/models/<model>/operations/<op>")
def operation(model, op):
    st = state()
    denied, _ = guard("status", "gemini", error)
    if denied is not None:
        return denied
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
    if phase == "failed" and job.fail_kind == "error":
        err = {"code": 13, "message": "Video generation failed due to an internal error."}
        return jsonify({"name": name, "done": True, "error": err})
    gvr: dict = {}
    if phase == "cancelled":  # no cancel on the Gemini API; kept for completeness
        return jsonify({"name": name, "done": True, "error": {"code": 1, "message": "Cancelled."}})
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
    denied, _ = guard("content", "gemini", error)
    if denied is not None:
        return denied
    job = st.get(fid)
    if job is None or job.protocol != "gemini" or job.media != "video":
        return fail(404, f"File files/{fid} not found.")
    if job.phase(st.now())[0] != "completed" or st.is_expired(job):
        return fail(404, f"File files/{fid} not found or has expired.")
    # Google answers with a redirect to the storage host; the key must not follow it.
    return redirect(f"{base_url()}/files/{fid}/video.mp4", 302)


@bp.get("/files/<fid>")
def file_meta(fid):
    """``files.get`` metadata for a generated video (what the SDK sees before download)."""
    st = state()
    job = st.get(fid)
    if job is None or job.protocol != "gemini" or job.media != "video":
        return fail(404, f"File files/{fid} not found.")
    ready = job.phase(st.now())[0] == "completed" and not st.is_expired(job)
    return jsonify(
        {
            "name": f"files/{fid}",
            "mimeType": "video/mp4",
            "state": "ACTIVE" if ready else "PROCESSING",
            "uri": f"{base_url()}/v1beta/files/{fid}",
            "downloadUri": f"{base_url()}/v1beta/files/{fid}:download?alt=media",
            "source": "GENERATED",
        }
    )


@bp.post("/models/<model>:generateContent")
def generate(model):
    st = state()
    denied, drop_after = guard("create", "gemini", error)
    if denied is not None:
        return denied
    if model not in IMAGE_MODELS:
        return _unknown_model(model, "generateContent")
    data = request.get_json(silent=True) or {}
    parts = ((data.get("contents") or [{}])[0] or {}).get("parts") or []
    prompt = next((p.get("text") for p in parts if isinstance(p, dict) and p.get("text")), None)
    if not prompt:
        return fail(400, "* GenerateContentRequest.contents: contents is not specified")
    ratio = ((data.get("generationConfig") or {}).get("imageConfig") or {}).get("aspectRatio")
    size = IMAGE_SIZES.get(ratio, "1024x1024")
    job = st.create(
        "gemini",
        model,
        prompt,
        size,
        0,
        request.headers.get("Idempotency-Key"),
        media="image",
    )
    if drop_after:
        return drop_connection()
    if "[fail]" in prompt:
        return jsonify(
            {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": job.id}
        )
    if job.fail:
        return fail(500, "An internal error has occurred. Please retry or report it.")
    png = media.image_png(prompt, size)
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


IMAGE_SIZES = {"16:9": "1344x768", "9:16": "768x1344", "1:1": "1024x1024", "4:3": "1184x864"}


def _valid_image(image) -> bool:
    if not isinstance(image, dict) or not image.get("mimeType"):
        return False
    try:
        return bool(base64.b64decode(image.get("bytesBase64Encoded") or "", validate=True))
    except ValueError:
        return False
