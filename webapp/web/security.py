"""Security headers on every response: a strict Content-Security-Policy (no inline
script, no eval, no inline style), and the usual hardening around it."""

from __future__ import annotations

from flask import Flask

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",  # reference-image previews are blob: URLs
        "media-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


def init_app(app: Flask) -> None:
    secure = bool(app.config.get("SESSION_COOKIE_SECURE"))

    @app.after_request
    def harden(resp):
        headers = resp.headers
        # Archived files carry their own, stricter policy (sandbox): keep it.
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", PERMISSIONS)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return resp
