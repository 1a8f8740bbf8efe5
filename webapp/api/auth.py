"""Bearer-token authentication and per-token rate limits for the JSON APIs."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from ..models import ApiToken
from ..services import accounts


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def rate_key() -> str:
    """Limit per token (hashed), falling back to the client address."""
    token = bearer_token()
    return "tok:" + ApiToken.hash(token)[:24] if token else "ip:" + (request.remote_addr or "?")


def api_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def token_required(fail):
    """``fail(status, message, code)`` renders the error in the calling API's shape."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = accounts.user_for_token(bearer_token() or "")
            if user is None:
                return fail(
                    401,
                    "Missing or invalid API token (Authorization: Bearer <token>).",
                    "unauthorized",
                )
            g.api_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator
