"""Shared helpers for the simulator's protocol routes: auth, faults, latency, files."""

from __future__ import annotations

import contextlib
import socket
import time

from flask import Response, current_app, jsonify, request

from . import media
from .state import Job, State


def state() -> State:
    return current_app.extensions["sim_state"]


def key_ok(provided: str | None) -> bool:
    return bool(provided) and provided == state().config["API_KEY"]


def drop_connection() -> Response:
    """Close the connection without sending a single byte of HTTP.

    Werkzeug's dev server puts the raw socket in ``environ["werkzeug.socket"]``; shutting
    it down makes the client read EOF at once (``requests`` raises ConnectionError:
    "Remote end closed connection without response"). The Response returned afterwards
    is never delivered: werkzeug's write fails with a BrokenPipe, which it treats as a
    dropped connection and swallows quietly.
    """
    sock = request.environ.get("werkzeug.socket")
    if sock is None:  # not werkzeug (e.g. gunicorn): fail loudly rather than pretend
        raise RuntimeError("drop faults need werkzeug's server")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    return Response(b"", status=500)


def guard(op: str, protocol: str, error_body):
    """Count the request and apply a queued fault. Returns (response, drop_after): a
    response to send instead of handling the request, or None, and whether the caller
    must drop the connection once it has created the job (``drop_after_create``)."""
    state().count(op)
    fault = apply_fault(op, protocol, error_body)
    if isinstance(fault, tuple):
        return None, True
    return fault, False


def apply_fault(op: str, protocol: str, error_body):
    """Return a response for a queued fault, or None to go on. ``drop_after_create`` is
    handled by the create routes (they must create first)."""
    f = state().take_fault(op, protocol)
    if f is None:
        return None
    kind = str(f.get("kind"))
    if kind == "drop_after_create":
        return ("after", f)
    if kind == "slow":
        time.sleep(float(f.get("delay", 3.0)))
        return None
    if kind == "drop":
        return drop_connection()
    if kind == "malformed":
        return Response(b'{"id": "video_', status=200, mimetype="application/json")
    if kind == "malformed_content":
        # A 200 that claims to be a video: the head of an MP4 and then noise.
        junk = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 16
        return Response(junk, status=200, mimetype="video/mp4")
    try:
        status = int(kind)
    except ValueError:
        status = 500
    retry_after = float(f.get("retry_after", 2))
    message = "Simulated failure." if status != 429 else "Rate limit reached; slow down."
    try:
        body, status = error_body(status, message, retry_after=retry_after)
    except TypeError:  # an error shape that carries no retry hint in its body
        body, status = error_body(status, message)
    resp = jsonify(body)
    resp.status_code = status
    if status == 429:
        resp.headers["Retry-After"] = str(int(retry_after))
        if protocol == "openai":  # the SDK prefers the millisecond header
            resp.headers["retry-after-ms"] = str(int(retry_after * 1000))
    return resp


def latency() -> None:
    ms = state().config.get("STATUS_LATENCY_MS") or 0
    if ms:
        time.sleep(float(ms) / 1000)


def file_response(job: Job, variant: str) -> Response:
    if job.media == "image":
        data = media.image_png(job.prompt, job.size)
        ctype = "image/png"
    else:
        assets = media.video_assets(job.prompt, job.size, job.seconds)
        if variant not in assets:
            return Response(status=404)
        data = assets[variant]
        ctype = media.CONTENT_TYPES[variant]
    resp = Response(data, mimetype=ctype)
    resp.cache_control.private = True
    return resp.make_conditional(request, accept_ranges=True, complete_length=len(data))


def cached_size(job: Job) -> int | None:
    """The result file's size if it is already rendered (never renders: cheap path)."""
    if job.media == "image":
        return None
    assets = media.peek(job.prompt, job.size, job.seconds)
    return len(assets["video"]) if assets else None


def base_url() -> str:
    return request.host_url.rstrip("/")
