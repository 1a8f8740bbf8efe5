import pytest

from webapp import create_app
from webapp.config import ConfigError


def test_health_reports_database(client):
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}


def test_production_refuses_to_start_without_secret(monkeypatch):
    monkeypatch.setenv("REELAY_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SCHEDULER_ENABLED": False, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_bad_boolean_env_is_refused(monkeypatch):
    monkeypatch.setenv("REELAY_SCHEDULER", "maybe")
    with pytest.raises(ConfigError, match="REELAY_SCHEDULER"):
        create_app()


def test_postgres_scheme_is_normalised(monkeypatch):
    from webapp.config import database_url

    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert database_url() == "postgresql+psycopg2://u@h/db"


def test_404_html_and_json(client):
    resp = client.get("/nope")
    assert resp.status_code == 404 and b"Not found" in resp.data and b"<html" in resp.data
    resp = client.get("/api/nope")
    assert resp.status_code == 404
    assert resp.get_json() == {
        "success": False,
        "message": "There is nothing here, or it is not yours to see.",
        "code": "not_found",
    }
    resp = client.get("/v1/nope")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_500_is_a_page_without_traceback(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    assert b"secret internals" not in resp.data and b"Something went wrong" in resp.data


def test_home_page_for_visitors(client):
    resp = client.get("/")
    assert resp.status_code == 200 and b"Create an account" in resp.data
