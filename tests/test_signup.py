"""Sign-up follows a policy; the first admin is made exactly once; races get answers."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import OneTimeLink, User
from webapp.models.users import ROLE_ADMIN
from webapp.services import accounts, signup

from .browser_support import LiveServer
from .conftest import csrf_token_from

PW = "correct horse"


def register(client, email, invite=None):
    data = {"email": email, "password": PW, "confirm": PW}
    if invite:
        data["invite"] = invite
    return client.post("/auth/register", data=data)


def admin_client(app):
    client = app.test_client()
    register(client, "admin@example.com")
    return client


@pytest.mark.parametrize(
    "policy, says",
    [
        ("open", "Anyone who can reach this site"),
        ("approval", "an admin approves each new account"),
        ("invite", "Only people with an invite link"),
        ("closed", "Nobody can sign up"),
    ],
)
def test_the_sign_up_and_login_pages_say_which_policy_applies(make_app, policy, says):
    app = make_app(SIGNUP_POLICY=policy)
    client = admin_client(app)
    client.post("/auth/logout")
    page = client.get("/auth/register").get_data(as_text=True)
    assert says in page
    assert ("<form" in page.split("Create your account")[1]) == (policy in ("open", "approval"))
    login = client.get("/auth/login").get_data(as_text=True)
    assert {
        "open": "Sign up",
        "approval": "an admin approves",
        "invite": "by invitation",
        "closed": "Sign-up is closed",
    }[policy] in login


def test_the_default_after_the_first_admin_is_approval(make_app):
    app = make_app(SIGNUP_POLICY=None)
    client = admin_client(app)
    with app.app_context():
        assert signup.policy() == "approval"
    client.post("/auth/logout")
    r = register(client, "bob@example.com")
    assert r.status_code == 302 and "/auth/login" in r.headers["Location"]
    r = client.post("/auth/login", data={"email": "bob@example.com", "password": PW})
    assert "waiting for an admin" in r.get_data(as_text=True)
    # the admin sees the pending account and approves it
    admin = app.test_client()
    admin.post("/auth/login", data={"email": "admin@example.com", "password": PW})
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "Waiting for approval" in page and "bob@example.com" in page
    with app.app_context():
        bob = db.session.scalar(select(User).where(User.email == "bob@example.com"))
    r = admin.post(f"/admin/users/{bob.id}", data={"action": "approve"}, follow_redirects=True)
    assert "bob@example.com approved." in r.get_data(as_text=True)
    r = client.post("/auth/login", data={"email": "bob@example.com", "password": PW})
    assert r.status_code == 302


def test_rejecting_a_pending_sign_up_removes_it(make_app):
    app = make_app(SIGNUP_POLICY="approval")
    admin = admin_client(app)
    register(app.test_client(), "spam@example.com")
    with app.app_context():
        spam = db.session.scalar(select(User).where(User.email == "spam@example.com"))
    admin.post(f"/admin/users/{spam.id}", data={"action": "reject"})
    with app.app_context():
        assert db.session.get(User, spam.id) is None


def test_an_admin_changes_the_policy_on_the_page_over_the_setting(make_app):
    app = make_app(SIGNUP_POLICY="open")
    admin = admin_client(app)
    r = admin.post("/admin/users/policy", data={"policy": "closed"}, follow_redirects=True)
    assert "Sign-up policy set to “closed”" in r.get_data(as_text=True)
    assert "set on the admin page" in r.get_data(as_text=True)
    r = register(app.test_client(), "late@example.com")
    assert r.status_code == 422 and "Nobody can sign up" in r.get_data(as_text=True)
    r = app.test_client().post(
        "/api/auth/register", json={"email": "late@example.com", "password": PW}
    )
    assert r.status_code == 403 and r.json["code"] == "signup_closed"
    assert admin.post("/admin/users/policy", data={"policy": "anarchy"}).status_code == 422


def test_invites_work_once_and_expire(make_app):
    app = make_app(SIGNUP_POLICY="invite")
    admin = admin_client(app)
    assert register(app.test_client(), "nobody@example.com").status_code == 422
    page = admin.post("/admin/users/invites", data={"note": "Grace"}).get_data(as_text=True)
    token = page.split("invite=")[1].split("<")[0].split('"')[0]
    invited = app.test_client()
    form = invited.get(f"/auth/register?invite={token}").get_data(as_text=True)
    assert "You were invited (Grace)" in form and token in form
    r = register(invited, "grace@example.com", invite=token)
    assert r.status_code == 302  # in, no approval needed
    r = register(app.test_client(), "again@example.com", invite=token)
    assert r.status_code == 422 and "expired or was already used" in r.get_data(as_text=True)
    with app.app_context():
        row = db.session.scalar(select(OneTimeLink).where(OneTimeLink.purpose == "invite"))
        assert row.token_hash != token and row.used_at is not None  # hashed at rest
        _row, old = signup.create_invite(db.session.get(User, 1))
        db.session.execute(
            OneTimeLink.__table__.update()
            .where(OneTimeLink.id == _row.id)
            .values(expires_at=row.created_at)
        )
        db.session.commit()
    assert register(app.test_client(), "late@example.com", invite=old).status_code == 422


def test_first_admin_welcome_says_so(make_app):
    app = make_app()
    r = admin_client(app).get("/", follow_redirects=True)
    assert "you are the admin" in r.get_data(as_text=True)


@pytest.mark.postgres
def test_concurrent_first_registrations_make_exactly_one_admin(make_app, backend):
    if backend != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    app = make_app(SIGNUP_POLICY="approval", LOGIN_RATE_LIMIT="1000 per minute")
    barrier = threading.Barrier(8)

    def one(i):
        with app.app_context():
            barrier.wait()
            try:
                return accounts.register(f"racer{i}@example.com", PW).role
            except accounts.AccountError as exc:
                return exc.code

    with ThreadPoolExecutor(8) as pool:
        roles = list(pool.map(one, range(8)))
    assert roles.count(ROLE_ADMIN) == 1, roles
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(User.role == ROLE_ADMIN)) == 1
        assert db.session.scalar(select(func.count()).select_from(User)) == 8
        pending = db.session.scalar(select(func.count()).where(User.approved.is_(False)))
        assert pending == 7  # the rest followed the policy


@pytest.mark.postgres
def test_concurrent_registrations_with_one_email_answer_and_log_no_secret(
    make_app, backend, caplog
):
    if backend != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    app = make_app(LOGIN_RATE_LIMIT="1000 per minute")
    caplog.set_level(logging.DEBUG)
    password = "a very secret password"
    with LiveServer(app) as live, ThreadPoolExecutor(10) as pool:

        def one(_):
            return requests.post(
                f"{live.url}/api/auth/register",
                json={"email": "same@example.com", "password": password},
                timeout=30,
            )

        answers = list(pool.map(one, range(10)))
    codes = sorted(r.status_code for r in answers)
    assert 500 not in codes and codes.count(201) == 1, codes
    assert all(r.json()["code"] == "email_taken" for r in answers if r.status_code != 201)
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash))
    logged = caplog.text
    assert password not in logged and stored not in logged and "$argon2" not in logged


def test_html_registration_race_is_an_error_next_to_the_field(app, client):
    register(client, "first@example.com")
    client.post("/auth/logout")
    page = client.get("/auth/register").get_data(as_text=True)
    token = csrf_token_from(page) if "csrf_token" in page else None
    r = client.post(
        "/auth/register",
        data={"email": "first@example.com", "password": PW, "confirm": PW, "csrf_token": token},
    )
    assert r.status_code == 422 and "already exists" in r.get_data(as_text=True)
