"""Login rate limits shared by the HTML and JSON login routes.

One bucket per client address across every login, sign-up and password-reset route (so
the routes do not add up to more guesses). Per account, ``services/login_throttle.py``
backs off failed logins by account *and* address, so nobody can lock an owner out.
"""

from __future__ import annotations

from flask import current_app

from .extensions import limiter


def _limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def login_limited(view):
    return limiter.shared_limit(_limit, scope="login-address", methods=["POST"])(view)
