"""Veo on Vertex AI (the only place google-genai 3.x creates Veo videos), plus the OAuth
token endpoint a service-account key file names and the Cloud Storage download of a
``gs://`` result.

- ``POST /{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning``
  → 200 ``{name}`` (google-genai accepts 200 only).
- ``POST …/models/{m}:fetchPredictOperation`` with ``{"operationName"}`` → ``{name}`` while
  running (no ``done``), then ``{name, done: true, response: {videos: [...]}}`` with
  ``gcsUri`` when the request set ``storageUri``, else ``bytesBase64Encoded``; a failed
  job is 200 with ``done`` and ``error``; a filtered one has ``raiMediaFilteredCount``.
- ``POST /token``: the JWT-bearer grant google-auth sends; answers the simulator's key as
  the access token. Every other route wants ``Authorization: Bearer <that token>``.
"""

from __future__ import annotations

import base64

from flask import Blueprint, jsonify, request

from . import media
from .common import drop_connection, file_response, guard, key_ok, latency, state

bp = Blueprint("sim_vertex", __name__)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MODELS = {"veo-3.1-generate-001", "veo-3.1-fast-generate-001", "veo-3.0-generate-001"}
DURATIONS = (4, 6, 8)
CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
         404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE",
         503: "UNAVAILABLE"}  # fmt: skip
MODEL_PATH = "/<ver>/projects/<project>/locations/<location>/publishers/google/models/<model>"


def error(status: int, message: str):
    return {
        "error": {"code": status, "message": message, "status": CODES.get(status, "UNKNOWN")}
    }, status


def fail(status: int, message: str):
    body, status = error(status, message)
    return jsonify(body), status


def _authorised() -> bool:
    header = request.headers.get("Authorization", "")
    return header.lower().startswith("bearer ") and key_ok(header[7:].strip())


def _unauthenticated():
    return fail(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
    )


@bp.post("/token")
def token():
    if (
        request.form.get("grant_type") != JWT_BEARER
        or request.form.get("assertion", "").count(".") != 2
    ):
        return jsonify({"error": "invalid_grant", "error_description": "Invalid JWT."}), 400
    return jsonify(
        {"access_token": state().config["API_KEY"], "expires_in": 3599, "token_type": "Bearer"}
    )


def _check_version(ver):
    return None if ver in ("v1", "v1beta1") else fail(404, f"Unknown API version {ver}.")


@bp.post(MODEL_PATH + ":predictLongRunning")
def predict(ver, project, location, model):
    if not _authorised():
        return _unauthenticated()
    if (bad := _check_version(ver)) is not None:
        return bad
    st = state()
    denied, drop_after = guard("create", "vertex", error)
    if denied is not None:
        return denied
    if model not in MODELS:
        return fail(
            404,
            f"Publisher Model `projects/{project}/locations/{location}/publishers/google/models/{model}` not found.",
        )
    data = request.get_json(silent=True) or {}
    instances = data.get("instances") if isinstance(data.get("instances"), list) else []
    instance = instances[0] if instances and isinstance(instances[0], dict) else {}
    prompt = instance.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return fail(400, "The prompt is required: instances[0].prompt.")
    image = instance.get("image")
    if image is not None and not _image_ok(image):
        return fail(400, "instances[0].image needs bytesBase64Encoded (or gcsUri) and mimeType.")
    params = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    seconds = params.get("durationSeconds", 8)
    if seconds not in DURATIONS:
        return fail(400, "durationSeconds must be one of 4, 6 or 8.")
    ratio = params.get("aspectRatio", "16:9")
    if ratio not in ("16:9", "9:16"):
        return fail(400, "aspectRatio must be 16:9 or 9:16.")
    resolution = params.get("resolution", "720p")
    if resolution not in ("720p", "1080p"):
        return fail(400, "resolution must be 720p or 1080p.")
    storage = params.get("storageUri")
    if storage is not None and not (isinstance(storage, str) and storage.startswith("gs://")):
        return fail(400, "storageUri must be a gs:// location.")
    count = params.get("sampleCount", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 4:
        return fail(400, "sampleCount must be between 1 and 4.")
    w, h = (1920, 1080) if resolution == "1080p" else (1280, 720)
    size = f"{h}x{w}" if ratio == "9:16" else f"{w}x{h}"
    job = st.create(
        "vertex", model, prompt, size, int(seconds), request.headers.get("Idempotency-Key")
    )
    job.extra.update(storage=storage, project=project, location=location, samples=count)
    if drop_after:
        return drop_connection()
    name = f"projects/{project}/locations/{location}/publishers/google/models/{model}/operations/{job.id}"
    return jsonify({"name": name})


@bp.post(MODEL_PATH + ":fetchPredictOperation")
def fetch(ver, project, location, model):
    if not _authorised():
        return _unauthenticated()
    if (bad := _check_version(ver)) is not None:
        return bad
    st = state()
    denied, _ = guard("status", "vertex", error)
    if denied is not None:
        return denied
    latency()
    name = (request.get_json(silent=True) or {}).get("operationName")
    if not isinstance(name, str) or "/operations/" not in name:
        return fail(400, "operationName is required.")
    job = st.get(name.rsplit("/operations/", 1)[1])
    if (
        job is None
        or job.protocol != "vertex"
        or not name.startswith(
            f"projects/{project}/locations/{location}/publishers/google/models/{model}/"
        )
    ):
        return fail(404, f"Operation {name} not found.")
    phase = job.phase(st.now())[0]
    if phase in ("queued", "in_progress"):
        return jsonify({"name": name})
    if phase == "failed" and job.fail_kind == "error":
        return jsonify(
            {
                "name": name,
                "done": True,
                "error": {"code": 13, "message": "Internal error encountered."},
            }
        )
    response = {"@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"}
    if phase == "failed":
        response.update(
            raiMediaFilteredCount=1,
            raiMediaFilteredReasons=[
                "Unable to generate videos because the prompt may violate our policies."
            ],
        )
    else:
        count = job.extra.get("samples", 1)
        response.update(raiMediaFilteredCount=0, videos=[_video(job, i) for i in range(count)])
    return jsonify({"name": name, "done": True, "response": response})


def _gcs_uri(job, index: int) -> str:
    bucket, _, prefix = job.extra["storage"][5:].partition("/")
    path = f"{prefix.rstrip('/') + '/' if prefix else ''}{job.id}/sample_{index}.mp4"
    return f"gs://{bucket}/{path}"


def _video(job, index: int = 0) -> dict:
    if job.extra.get("storage"):
        return {"gcsUri": _gcs_uri(job, index), "mimeType": "video/mp4"}
    data = media.video_assets(job.prompt, job.size, job.seconds)["video"]
    return {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": "video/mp4"}


@bp.get("/storage/v1/b/<bucket>/o/<path:obj>")
def storage(bucket, obj):
    """The Cloud Storage JSON API download (``?alt=media``) of a gs:// result."""
    if not _authorised():
        return _unauthenticated()
    st = state()
    denied, _ = guard("content", "vertex", error)
    if denied is not None:
        return denied
    job_id = obj.rstrip("/").split("/")[-2] if obj.count("/") >= 1 else ""
    job = st.get(job_id)
    written = (
        {_gcs_uri(job, i) for i in range(job.extra.get("samples", 1))}
        if job is not None and job.protocol == "vertex" and job.extra.get("storage")
        else set()
    )
    if f"gs://{bucket}/{obj}" not in written or request.args.get("alt") != "media":
        return fail(404, f"No such object: {bucket}/{obj}")
    if st.is_expired(job) or job.phase(st.now())[0] != "completed":
        return fail(404, f"No such object: {bucket}/{obj}")
    return file_response(job, "video")


def _image_ok(image) -> bool:
    if not isinstance(image, dict) or not image.get("mimeType"):
        return False
    if image.get("gcsUri"):
        return str(image["gcsUri"]).startswith("gs://")
    try:
        return bool(base64.b64decode(image.get("bytesBase64Encoded") or "", validate=True))
    except ValueError:
        return False
