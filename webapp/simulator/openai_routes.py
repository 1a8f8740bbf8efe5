"""The OpenAI Videos API shape (served at /v1 and /sora/v1)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .common import base_url, drop_connection, file_response, guard, key_ok, latency, state

REF_KEYS = ("image_url", "file_id")


def error(status: int, message: str, param: str | None = None, code: str | None = None):
    etype = {401: "invalid_request_error", 429: "rate_limit_error"}.get(
        status, "invalid_request_error" if status < 500 else "server_error"
    )
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}, status


def fail(status, message, param=None, code=None):
    body, status = error(status, message, param, code)
    return jsonify(body), status


def _auth():
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else header
    if not key_ok(token.strip()):
        return fail(401, "Incorrect API key provided.", code="invalid_api_key")
    return None


def video_json(job) -> dict:
    st = state()
    now = st.now()
    phase, progress = job.phase(now)
    quirks = st.config.get("OPENAI_QUIRKS")
    done = phase in ("completed", "failed")
    body = {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "status": "failed" if phase == "cancelled" else phase,
        "progress": progress,
        "created_at": int(job.created),
        "completed_at": int(job.done_at) if done else None,
        "expires_at": int(job.done_at + float(st.config["EXPIRE_SECONDS"]))
        if phase == "completed"
        else None,
        "prompt": job.prompt,
        "remixed_from_video_id": job.remixed_from,
        "seconds": str(job.seconds),
        "size": job.size,
        "quality": "standard",
        "error": None,
    }
    if phase == "failed" and job.fail_kind == "policy":
        body["error"] = {
            "code": "moderation_blocked",
            "message": "Your request was blocked by our moderation system.",
        }
    elif phase == "failed":
        body["error"] = {
            "code": "internal_error",
            "message": "Video generation failed. Please try again.",
        }
    elif phase == "cancelled":
        body["error"] = {"code": "cancelled", "message": "The job was cancelled."}
    if quirks:
        body["status"] = {"in_progress": "processing", "queued": "queued"}.get(
            body["status"], body["status"]
        )
        body["progress"] = f"{progress}%"
        body["created_at"] = int(job.created * 1000)
        body["completed_at"] = int(job.done_at * 1000) if done else None
        body.pop("expires_at")
        body["task_id"] = job.id
        prefix = request.path.split("/videos")[0]
        body["metadata"] = (
            {"url": f"{base_url()}{prefix}/videos/{job.id}/content"} if phase == "completed" else {}
        )
        body["channel_id"] = 7
    return body


def make_blueprint(name: str, prefix: str) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix=prefix)

    @bp.before_request
    def _check():
        return _auth()

    @bp.post("/videos")
    def create():
        st = state()
        denied, drop_after = guard("create", "openai", error)
        if denied is not None:
            return denied
        data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        if not isinstance(data, dict):
            return fail(400, "We could not parse the JSON body of your request.")
        prompt = data.get("prompt")
        if not isinstance(prompt, str) or not 1 <= len(prompt) <= 32000:
            return fail(
                400,
                "Invalid 'prompt': string must be 1-32000 characters.",
                "prompt",
                "invalid_value",
            )
        seconds = str(data.get("seconds") or "4")
        allowed = [str(s) for s in st.config["ALLOWED_SECONDS"]]
        if seconds not in allowed:
            return fail(
                400,
                f"Invalid value: '{seconds}'. Supported values are: {', '.join(repr(a) for a in allowed)}.",
                "seconds",
                "invalid_value",
            )
        size = data.get("size") or "720x1280"
        if size not in st.config["ALLOWED_SIZES"]:
            return fail(400, f"Invalid value: '{size}'.", "size", "invalid_value")
        json_ref = data.get("input_reference")
        if isinstance(json_ref, dict) and sum(bool(json_ref.get(k)) for k in REF_KEYS) != 1:
            return fail(
                400,
                "Provide exactly one of 'image_url' or 'file_id'.",
                "input_reference",
                "invalid_value",
            )
        ref = request.files.get("input_reference")
        if ref is not None and ref.mimetype not in ("image/png", "image/jpeg", "image/webp"):
            return fail(
                400, "input_reference must be a JPEG, PNG or WebP image.", "input_reference"
            )
        job = st.create(
            "openai",
            str(data.get("model") or "sora-2"),
            prompt,
            size,
            int(seconds),
            request.headers.get("Idempotency-Key"),
        )
        if drop_after:
            return drop_connection()
        resp = jsonify(video_json(job))
        if st.config.get("POLL_AFTER_MS"):
            resp.headers["openai-poll-after-ms"] = str(st.config["POLL_AFTER_MS"])
        return resp

    @bp.get("/videos")
    def list_videos():
        st = state()
        denied, _ = guard("list", "openai", error)
        if denied is not None:
            return denied
        try:
            limit = int(request.args.get("limit", 20))
        except ValueError:
            return fail(400, "Invalid 'limit': expected an integer.", "limit", "invalid_value")
        if not 0 <= limit <= 100:
            return fail(
                400, "Invalid 'limit': must be between 0 and 100.", "limit", "invalid_value"
            )
        order = request.args.get("order", "desc")
        if order not in ("asc", "desc"):
            return fail(400, f"Invalid value: '{order}'.", "order", "invalid_value")
        ids = st.ids("openai")
        if order == "desc":
            ids = ids[::-1]
        after = request.args.get("after")
        if after and after in ids:
            ids = ids[ids.index(after) + 1 :]
        page = ids[:limit]
        data = [video_json(st.jobs[i]) for i in page]
        return jsonify(
            {
                "object": "list",
                "data": data,
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
                "has_more": len(ids) > limit,
            }
        )

    def _job(video_id):
        job = state().get(video_id)
        if job is None or job.protocol != "openai":
            return None, fail(404, f"Video with id '{video_id}' not found.", code="not_found")
        return job, None

    @bp.get("/videos/<video_id>")
    def retrieve(video_id):
        st = state()
        denied, _ = guard("status", "openai", error)
        if denied is not None:
            return denied
        latency()
        job, err = _job(video_id)
        if err:
            return err
        resp = jsonify(video_json(job))
        if st.config.get("POLL_AFTER_MS"):
            resp.headers["openai-poll-after-ms"] = str(st.config["POLL_AFTER_MS"])
        return resp

    @bp.delete("/videos/<video_id>")
    def delete(video_id):
        st = state()
        denied, _ = guard("delete", "openai", error)
        if denied is not None:
            return denied
        job, err = _job(video_id)
        if err:
            return err
        st.cancel(job)  # deleting a running job stops it (OpenAI has no cancel)
        job.stop_requested = True
        job.deleted = True
        return jsonify({"id": video_id, "object": "video.deleted", "deleted": True})

    @bp.post("/videos/<video_id>/remix")
    def remix(video_id):
        st = state()
        denied, drop_after = guard("remix", "openai", error)
        if denied is not None:
            return denied
        job, err = _job(video_id)
        if err:
            return err
        if job.phase(st.now())[0] != "completed":
            return fail(400, "Only completed videos can be remixed.", code="invalid_state")
        data = request.get_json(silent=True) or request.form.to_dict() or {}
        prompt = data.get("prompt")
        if not isinstance(prompt, str) or not 1 <= len(prompt) <= 32000:
            return fail(400, "Invalid 'prompt'.", "prompt")
        new = st.create(
            "openai",
            job.model,
            prompt,
            job.size,
            job.seconds,
            request.headers.get("Idempotency-Key"),
            remixed_from=job.id,
        )
        if drop_after:
            return drop_connection()
        return jsonify(video_json(new))

    @bp.get("/videos/<video_id>/content")
    def content(video_id):
        st = state()
        denied, _ = guard("content", "openai", error)
        if denied is not None:
            return denied
        job, err = _job(video_id)
        if err:
            return err
        if job.phase(st.now())[0] != "completed":
            return fail(400, "Video is not ready yet.", code="video_not_ready")
        if st.is_expired(job):
            return fail(404, "The video is no longer available. Downloads expire after 1 hours.")
        variant = request.args.get("variant", "video")
        if variant not in ("video", "thumbnail", "spritesheet"):
            return fail(400, f"Invalid value: '{variant}'.", "variant")
        return file_response(job, variant)

    return bp
