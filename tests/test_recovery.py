"""Password recovery by one-time links (admin, CLI, e-mail), token scope and expiry,
and signed links that die with their owner's account."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import ApiToken, OneTimeLink, User, UserSession
from webapp.models.base import utcnow
from webapp.services import accounts, recovery

from . import factories

PW = "correct horse"
NEW = "battery staple"


def user_id(app, email):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def setup_two(app):
    admin = app.test_client()
    admin.post("/auth/register", data={"email": "admin@example.com", "password": PW, "confirm": PW})
    bob = app.test_client()
    bob.post("/auth/register", data={"email": "bob@example.com", "password": PW, "confirm": PW})
    return admin, bob


def path_of(link: str) -> str:
    return "/auth/reset/" + link.rsplit("/reset/", 1)[1]


def test_an_admin_reset_link_works_once_and_signs_out_everywhere(app):
    admin, bob = setup_two(app)
    uid = user_id(app, "bob@example.com")
    with app.app_context():
        accounts.create_token(db.session.get(User, uid), "script")
    page = admin.post(f"/admin/users/{uid}", data={"action": "reset_link"}).get_data(as_text=True)
    assert "Password-reset link for bob@example.com" in page
    link = page.split('id="one-time-link">')[1].split("<")[0]
    stranger = app.test_client()
    form = stranger.get(path_of(link))
    assert form.status_code == 200 and "Choose a new password" in form.get_data(as_text=True)
    r = stranger.post(
        path_of(link), data={"new_password": NEW, "confirm": NEW, "revoke_tokens": "y"}
    )
    assert r.status_code == 302
    assert bob.get("/settings/").status_code == 302  # bob's old browser is signed out
    with app.app_context():
        assert db.session.scalar(select(UserSession).where(UserSession.user_id == uid)) is None
        assert all(
            t.revoked for t in db.session.scalars(select(ApiToken).where(ApiToken.user_id == uid))
        )
        row = db.session.scalar(select(OneTimeLink).where(OneTimeLink.purpose == "reset"))
        assert link.rsplit("/", 1)[1] not in (row.token_hash,) and row.used_at
    again = stranger.post(
        path_of(link), data={"new_password": "another one", "confirm": "another one"}
    )
    assert again.status_code == 410 and "expired or was already used" in again.get_data(
        as_text=True
    )
    assert (
        bob.post("/auth/login", data={"email": "bob@example.com", "password": NEW}).status_code
        == 302
    )


def test_a_reset_link_expires(app):
    setup_two(app)
    with app.app_context():
        link = recovery.issue(db.session.get(User, user_id(app, "bob@example.com")))
        db.session.execute(update(OneTimeLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert app.test_client().get(path_of(link)).status_code == 410


def test_cli_prints_a_reset_link(app, runner):
    setup_two(app)
    result = runner.invoke(args=["users", "reset-password", "bob@example.com"])
    assert result.exit_code == 0 and "/auth/reset/" in result.output
    assert app.test_client().get(path_of(result.output.strip())).status_code == 200
    missing = runner.invoke(args=["users", "reset-password", "nobody@example.com"])
    assert missing.exit_code != 0 and "No account" in missing.output


def test_changing_the_password_offers_to_revoke_tokens(app):
    _admin, bob = setup_two(app)
    uid = user_id(app, "bob@example.com")
    with app.app_context():
        _t, clear = accounts.create_token(db.session.get(User, uid), "script")
    r = bob.post(
        "/settings/password",
        data={
            "pw-current_password": PW,
            "pw-new_password": NEW,
            "pw-confirm": NEW,
            "pw-revoke_tokens": "y",
        },
        follow_redirects=True,
    )
    assert "API tokens were revoked" in r.get_data(as_text=True)
    assert (
        app.test_client()
        .get("/v1/videos", headers={"Authorization": f"Bearer {clear}"})
        .status_code
        == 401
    )


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on loopback, collecting what it is sent."""
    from aiosmtpd.controller import Controller

    from .bench_ports import free_port

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{port}"
    controller.stop()


def wait_for(inbox, n, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(inbox.messages) < n:
        time.sleep(0.05)
    return inbox.messages


def test_forgot_password_mails_a_link_and_never_says_whether_the_address_exists(make_app, smtp):
    inbox, url = smtp
    app = make_app(SMTP_URL=url, BASE_URL="https://reelay.example")
    setup_two(app)
    client = app.test_client()
    known = client.post("/auth/forgot", data={"email": "bob@example.com"})
    unknown = client.post("/auth/forgot", data={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    said = lambda r: r.get_data(as_text=True).split("<main")[1]  # noqa: E731
    assert said(known) == said(unknown)
    assert "If an account exists for that address" in said(known)
    [(to, body)] = wait_for(inbox, 1)
    time.sleep(0.3)
    assert len(inbox.messages) == 1 and to == ["bob@example.com"]
    link = body.split("https://reelay.example")[1].split()[0]
    r = client.post(link, data={"new_password": NEW, "confirm": NEW})
    assert r.status_code == 302


def test_without_mail_the_page_says_to_ask_an_admin(app):
    page = app.test_client().get("/auth/forgot").get_data(as_text=True)
    assert "does not send e-mail" in page and "reset-password" in page


def test_read_only_and_expiring_tokens(app):
    _admin, bob = setup_two(app)
    r = bob.post(
        "/settings/tokens", data={"token-name": "ci", "token-scope": "read", "token-expires": "7"}
    )
    page = r.get_data(as_text=True)
    clear = page.split('id="new-token">')[1].split("<")[0]
    assert "read only" in page
    h = {"Authorization": f"Bearer {clear}"}
    client = app.test_client()
    assert client.get("/v1/videos", headers=h).status_code == 200
    r = client.post("/v1/videos", json={"prompt": "p", "model": "sora_video2"}, headers=h)
    assert r.status_code == 403 and r.json["error"]["code"] == "insufficient_scope"
    assert (
        client.post("/v1/videos/query", json={"video_id": "video_x"}, headers=h).status_code == 404
    )
    with app.app_context():
        db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get("/v1/videos", headers=h).status_code == 401
    assert "expired" in bob.get("/settings/").get_data(as_text=True)


def test_signed_links_stop_when_the_owner_is_deactivated(app):
    admin, bob = setup_two(app)
    uid = user_id(app, "bob@example.com")
    with app.app_context():
        from webapp.services import archive, tasks

        archive.store().put_stream("tasks/v/video.mp4", [b"x" * 2000], "video/mp4")
        entry = {"key": "tasks/v/video.mp4", "content_type": "video/mp4", "size": 2000}
    vid = factories.task(app, uid, archive={"video": entry})
    with app.app_context():
        sig = tasks.sign_content(vid)
    url = f"/tasks/{vid}/content?sig={sig}"
    anon = app.test_client()
    assert anon.get(url).status_code == 200  # the link is honoured…
    admin.post(f"/admin/users/{uid}", data={"action": "deactivate"})
    assert anon.get(url).status_code == 404  # …until its owner is deactivated
