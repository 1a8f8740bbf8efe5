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


def _token():
    """The live API token of this request, looked up once (the rate key and the auth
    check both need it)."""
    if "_api_token" not in g:
        clear = bearer_token()
        g._api_token = accounts.token_for(clear) if clear else None
    return g._api_token


def _token_user():
    token = _token()
    return token.user if token else None


READ_METHODS = ("GET", "HEAD", "OPTIONS")


def rate_key() -> str:
    """Limit per valid token; anything else (no token, a guessed or revoked one) counts
    against the client address, so spraying random tokens is limited too."""
    token = bearer_token()
    if token and _token_user() is not None:
        return "tok:" + ApiToken.hash(token)[:24]
    return "ip:" + (request.remote_addr or "?")


def api_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def token_required(fail, reads: bool = False):
    """``fail(status, message, code)`` renders the error in the calling API's shape.
    A read-only token may call reads only: GET, or a route marked ``reads=True``."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            token = _token()
            if token is None:
                return fail(
                    401,
                    "Missing, expired or revoked API token (Authorization: Bearer <token>).",
                    "unauthorized",
                )
            if token.read_only and not reads and request.method not in READ_METHODS:
                return fail(
                    403,
                    "This API token is read-only; use a read-write token.",
                    "insufficient_scope",
                )
            g.api_user = token.user
            g.api_token = token  # its own caps apply on top of its owner's
            return view(*args, **kwargs)

        return wrapped

    return decorator
