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


def _token_user():
    """The token's user, looked up once per request (the rate key and the auth check
    both need it)."""
    if "_token_user" not in g:
        token = bearer_token()
        g._token_user = accounts.user_for_token(token) if token else None
    return g._token_user


def rate_key() -> str:
    """Limit per valid token; anything else (no token, a guessed or revoked one) counts
    against the client address, so spraying random tokens is limited too."""
    token = bearer_token()
    if token and _token_user() is not None:
        return "tok:" + ApiToken.hash(token)[:24]
    return "ip:" + (request.remote_addr or "?")


def api_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def token_required(fail):
    """``fail(status, message, code)`` renders the error in the calling API's shape."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = _token_user()
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
