"""Login rate limits shared by the HTML and JSON login routes.

One bucket per client address across every login route (so the two logins do not add
up to twice the guesses) and one per account (so guesses spread over many addresses
still slow down on one account)."""

from __future__ import annotations

import hashlib

from flask import current_app, request

from .extensions import limiter


def _limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_key() -> str:
    email = request.form.get("email")
    if email is None and request.is_json:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    email = (email if isinstance(email, str) else "").strip().lower()
    return "acct:" + hashlib.sha256(email.encode()).hexdigest()[:24]


def login_limited(view):
    view = limiter.shared_limit(
        _limit, scope="login-account", key_func=_account_key, methods=["POST"]
    )(view)
    return limiter.shared_limit(_limit, scope="login-address", methods=["POST"])(view)
