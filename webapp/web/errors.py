"""Error pages for browsers, JSON errors for /api and /v1 (in each API's own shape)."""

import logging
import math
import time

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..extensions import db, limiter
from ..htmx_utils import is_htmx
from ..request_guard import UnstorableInput

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Not signed in", "Please log in."),
    403: ("Forbidden", "You do not have access to this page."),
    404: ("Not found", "There is nothing here, or it is not yours to see."),
    405: ("Method not allowed", "That action is not available here."),
    413: ("Too large", "The upload or request body is too large."),
    422: ("Invalid input", "Some fields need fixing."),
    429: ("Too many requests", "Slow down a little and try again shortly."),
    500: ("Something went wrong", "An unexpected error happened. It has been logged."),
}

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
}


def wants_json() -> bool:
    path = request.path
    return path.startswith("/api/") or path.startswith("/v1/") or path == "/v1"


def error_response(
    status: int, message: str | None = None, code: str | None = None, param: str | None = None
):
    title, default = MESSAGES.get(status, ("Error", "Something went wrong."))
    message = message or default
    code = code or CODES.get(status, "error")
    headers = {}
    if wants_json():
        if request.path.startswith("/v1/") and not request.path.startswith("/v1/videos/query"):
            body = {
                "error": {
                    "message": message,
                    "type": _openai_type(status),
                    "code": code,
                    "param": param,
                }
            }
        else:
            body = {"success": False, "message": message, "code": code}
            if param:
                body["errors"] = {param: message}
        resp = jsonify(body)
        resp.status_code = status
        return resp
    if status == 400 and is_htmx():
        headers["HX-Refresh"] = "true"
    template = "errors/_error.html" if is_htmx() else "errors/error.html"
    return render_template(template, status=status, title=title, message=message), status, headers


def _openai_type(status: int) -> str:
    if status in (401, 403):
        return "authentication_error" if status == 401 else "permission_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(
            400,
            "Your form expired or was sent from elsewhere. Reload and try again.",
            "csrf_failed",
        )

    @app.errorhandler(UnstorableInput)
    def unstorable_input(exc: UnstorableInput):
        return error_response(400, exc.description, "invalid_characters", param=exc.field)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        message = exc.description if status in (400, 405) and wants_json() else None
        if status == 429:
            retry = getattr(exc, "retry_after", None)
            current = limiter.current_limit
            if retry is None and current is not None:
                retry = max(1, math.ceil(current.reset_at - time.time()))
            from .auth import LIMITED_FORMS, too_many

            if request.endpoint in LIMITED_FORMS and not wants_json():
                return too_many(int(retry or 60))
            return _with_retry_after(error_response(429), retry)
        return error_response(status, message if status == 405 else None)

    @app.errorhandler(Exception)
    def unhandled(exc):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_response(500)

    app.register_error_handler(InternalServerError, lambda e: error_response(500))


def _with_retry_after(resp, retry):
    from flask import make_response

    resp = make_response(resp)
    if "Retry-After" not in resp.headers:
        resp.headers["Retry-After"] = str(int(retry) if retry else 60)
    return resp
