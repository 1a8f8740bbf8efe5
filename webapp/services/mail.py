"""Outgoing e-mail over SMTP, configured by ``REELAY_SMTP_URL``:
``smtp://user:password@host:587`` (STARTTLS when the server offers it), ``smtps://…``
(TLS from the start), or ``smtp://host:25`` without login."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app

TIMEOUT = 15


def send(to: str, subject: str, body: str) -> None:
    url = urlsplit(current_app.config["SMTP_URL"])
    if url.scheme not in ("smtp", "smtps"):
        raise ValueError("REELAY_SMTP_URL must start with smtp:// or smtps://")
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    host, port = url.hostname or "localhost", url.port
    if url.scheme == "smtps":
        server = smtplib.SMTP_SSL(
            host, port or 465, timeout=TIMEOUT, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(host, port or 25, timeout=TIMEOUT)
    with server:
        if url.scheme == "smtp":
            server.ehlo()
            if server.has_extn("starttls"):
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.send_message(msg)
