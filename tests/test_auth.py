from sqlalchemy import select

from webapp.extensions import db
from webapp.models import User

from .conftest import csrf_token_from


def test_register_logs_in_and_first_user_is_admin(client, auth, app):
    resp = auth.register()
    assert resp.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.email == "ada@example.com" and user.is_admin
        assert user.password_hash.startswith("$argon2id$")
    page = client.get("/settings/")
    assert page.status_code == 200 and b"ada@example.com" in page.data


def test_second_user_is_not_admin(client, auth, app):
    auth.register()
    auth.logout()
    auth.register("bob@example.com")
    with app.app_context():
        bob = db.session.scalar(select(User).where(User.email == "bob@example.com"))
        assert not bob.is_admin


def test_duplicate_email_error_next_to_field(client, auth, app):
    auth.register()
    auth.logout()
    resp = auth.register("ADA@example.com ")
    assert resp.status_code == 422
    assert b"An account with this email already exists." in resp.data
    assert b'aria-invalid="true"' in resp.data
    with app.app_context():
        assert db.session.query(User).count() == 1


def test_register_validation_messages(client):
    resp = client.post(
        "/auth/register", data={"email": "nope", "password": "short", "confirm": "other"}
    )
    assert resp.status_code == 422
    assert b"Enter a valid email address." in resp.data
    assert b"Use 8 to 128 characters." in resp.data
    assert b"The passwords do not match." in resp.data


def test_login_wrong_password(client, auth):
    auth.register()
    auth.logout()
    resp = auth.login(password="wrong password")
    assert resp.status_code == 422
    assert b"Wrong email or password." in resp.data
    assert client.get("/settings/").status_code == 302


def test_login_unknown_email_same_message(client):
    resp = client.post("/auth/login", data={"email": "ghost@example.com", "password": "whatever1"})
    assert resp.status_code == 422 and b"Wrong email or password." in resp.data


def test_login_and_logout(client, auth):
    auth.register()
    auth.logout()
    resp = auth.login()
    assert resp.status_code == 302
    assert client.get("/settings/").status_code == 200
    resp = auth.logout()
    assert resp.status_code == 302
    assert client.get("/settings/").status_code == 302


def test_login_redirects_only_to_local_next(client, auth):
    auth.register()
    auth.logout()
    resp = client.post(
        "/auth/login?next=https://evil.example/x",
        data={"email": "ada@example.com", "password": "correct horse"},
    )
    assert resp.status_code == 302 and "evil.example" not in resp.headers["Location"]
    for sneaky in ("//evil.example/x", "////evil.example/x", "/\\evil.example", "/%0d%0aX:1"):
        auth.logout()
        resp = client.post(
            f"/auth/login?next={sneaky}",
            data={"email": "ada@example.com", "password": "correct horse"},
        )
        location = resp.headers["Location"]
        assert "evil.example" not in location and not location.startswith("//"), sneaky
    auth.logout()
    resp = client.post(
        "/auth/login?next=/settings/",
        data={"email": "ada@example.com", "password": "correct horse"},
    )
    assert resp.headers["Location"].endswith("/settings/")


def test_logout_is_post_only(client, auth):
    auth.register()
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/settings/").status_code == 200


def test_inactive_user_cannot_log_in(client, auth, app):
    auth.register()
    auth.logout()
    with app.app_context():
        db.session.scalar(select(User)).active = False
        db.session.commit()
    resp = auth.login()
    assert resp.status_code == 422


def test_session_cookie_flags(client, auth):
    resp = auth.register()
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_csrf_rejected_when_enabled(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    resp = client.post(
        "/auth/register",
        data={"email": "a@example.com", "password": "correct horse", "confirm": "correct horse"},
    )
    assert resp.status_code == 400
    assert b"Your form expired" in resp.data
    # With the token from the page it works.
    page = client.get("/auth/register")
    token = csrf_token_from(page.get_data(as_text=True))
    resp = client.post(
        "/auth/register",
        data={
            "email": "a@example.com",
            "password": "correct horse",
            "confirm": "correct horse",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302


def test_csrf_header_accepted_for_htmx(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = csrf_token_from(page)
    assert f'"X-CSRFToken": "{token}"' in page  # the body hx-headers carries it
    resp = client.post(
        "/auth/register",
        data={"email": "h@example.com", "password": "correct horse", "confirm": "correct horse"},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 302


def test_login_rate_limited(make_app):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for _ in range(3):
        client.post("/auth/login", data={"email": "x@example.com", "password": "nope nope"})
    resp = client.post("/auth/login", data={"email": "x@example.com", "password": "nope nope"})
    assert resp.status_code == 429
    page = resp.get_data(as_text=True)
    assert "Too many attempts; try again in" in page  # says how long, next to the field
    assert 'value="x@example.com"' in page  # and keeps what was typed
    assert int(resp.headers["Retry-After"]) > 0


def test_login_limits_are_shared_across_the_html_and_json_logins(make_app):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    bad = {"email": "x@example.com", "password": "nope nope"}
    client.post("/auth/login", data=bad)
    client.post("/api/auth/login", json=bad)
    client.post("/auth/login", data=bad)
    assert client.post("/api/auth/login", json=bad).status_code == 429


def test_a_guesser_slows_down_but_never_locks_the_owner_out(make_app):
    app = make_app(LOGIN_RATE_LIMIT="1000 per minute")
    client = app.test_client()
    client.post(
        "/api/auth/register", json={"email": "victim@example.com", "password": "correct horse"}
    )
    attacker = {"REMOTE_ADDR": "10.0.0.66"}
    codes = [
        client.post(
            "/api/auth/login",
            json={"email": "Victim@example.com", "password": f"guess {i}"},
            environ_base=attacker,
        ).status_code
        for i in range(7)
    ]
    assert codes[:5] == [401] * 5 and 429 in codes[5:]  # backs off after five misses
    r = client.post(
        "/api/auth/login",
        json={"email": "victim@example.com", "password": "correct horse"},
        environ_base=attacker,
    )
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1  # even the right one waits
    owner = client.post(
        "/api/auth/login",
        json={"email": "victim@example.com", "password": "correct horse"},
        environ_base={"REMOTE_ADDR": "192.0.2.10"},
    )
    assert owner.status_code == 200  # the owner, elsewhere, is not locked out


def test_admin_page_refused_to_user_and_visitor(client, auth):
    assert client.get("/admin/users").status_code == 302  # visitor → login
    assert "/auth/login" in client.get("/admin/users").headers["Location"]
    auth.register()  # admin
    assert client.get("/admin/users").status_code == 200
    auth.logout()
    auth.register("bob@example.com")
    resp = client.get("/admin/users")
    assert resp.status_code == 403
    assert b"You do not have access" in resp.data


def test_htmx_unauthorized_gets_hx_redirect(client):
    resp = client.get("/settings/", headers={"HX-Request": "true"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"].endswith("/auth/login")


def test_admin_can_deactivate_and_promote(client, auth, app):
    auth.register()
    auth.logout()
    auth.register("bob@example.com")
    auth.logout()
    auth.login()
    with app.app_context():
        bob_id = db.session.scalar(select(User.id).where(User.email == "bob@example.com"))
    client.post(f"/admin/users/{bob_id}", data={"action": "promote"})
    client.post(f"/admin/users/{bob_id}", data={"action": "deactivate"})
    with app.app_context():
        bob = db.session.get(User, bob_id)
        assert bob.is_admin and not bob.active


def test_cli_create_admin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create-admin", "root@example.com", "--password", "s3cret-pass"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "root@example.com")).is_admin
    result = runner.invoke(args=["users", "create-admin", "x@example.com", "--password", "short"])
    assert result.exit_code != 0 and "at least 8" in result.output


def test_logout_ends_the_session_on_the_server(app, client, auth):
    """A copied session or remember-me cookie is worthless after logout."""
    auth.register()
    auth.logout()
    client.post(
        "/auth/login",
        data={"email": "ada@example.com", "password": "correct horse", "remember": "y"},
    )
    stolen = {name: client.get_cookie(name).value for name in ("session", "remember_token")}
    assert client.get("/settings/").status_code == 200
    auth.logout()
    thief = app.test_client()
    for name, value in stolen.items():
        thief.set_cookie(name, value)
    assert thief.get("/settings/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("remember_token", stolen["remember_token"])
    assert thief.get("/settings/").status_code == 302


def test_password_change_signs_out_other_browsers(app, client, auth):
    auth.register()
    other = app.test_client()
    other.post("/auth/login", data={"email": "ada@example.com", "password": "correct horse"})
    assert other.get("/settings/").status_code == 200
    r = client.post(
        "/settings/password",
        data={
            "pw-current_password": "correct horse",
            "pw-new_password": "battery staple",
            "pw-confirm": "battery staple",
        },
    )
    assert r.status_code == 302
    assert client.get("/settings/").status_code == 200  # this browser stays in
    assert other.get("/settings/").status_code == 302  # the other one is out


def test_login_starts_a_fresh_session(app, client, auth):
    auth.register()
    auth.logout()
    client.get("/auth/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by someone else"
    auth.login()
    with client.session_transaction() as sess:
        assert "planted" not in sess
