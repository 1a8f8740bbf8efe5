"""Provider management from the CLI and the admin page: add, list, test connection
(without creating a job), and a UI that offers only what a provider can do."""

from __future__ import annotations

import json

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Provider

from . import factories
from .lifecycle_support import SIM_KEY, user

MODELS = json.dumps({"sora_video2": {"upstream": "sora-2", "size": "1280x720", "seconds": 4}})


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["providers", *args])


def test_cli_add_list_and_test_without_creating_a_job(sim_app, sim, monkeypatch):
    monkeypatch.setenv("GATEWAY_API_KEY", SIM_KEY)
    r = _cli(
        sim_app,
        "add",
        "--name", "My gateway",
        "--kind", "openai",
        "--base-url", sim.url,
        "--key-env", "GATEWAY_API_KEY",
        "--models", MODELS,
        "--seconds", "4,8",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "added provider" in r.output
    with sim_app.app_context():
        pid = db.session.scalar(select(Provider.id).where(Provider.name == "My gateway"))
    listing = _cli(sim_app, "list").output
    assert "My gateway" in listing and "$GATEWAY_API_KEY" in listing
    assert SIM_KEY not in listing  # the name of the variable, never its value
    r = _cli(sim_app, "test", str(pid))
    assert r.exit_code == 0 and r.output.startswith("OK")
    monkeypatch.setenv("GATEWAY_API_KEY", "wrong-key")
    r = _cli(sim_app, "test", str(pid))
    assert r.exit_code == 1 and "FAILED" in r.output and "wrong-key" not in r.output
    assert sim.stats()["created_total"] == 0


def test_cli_add_reports_bad_input_and_writes_nothing(sim_app):
    r = _cli(
        sim_app,
        "add",
        "--name", "Bad",
        "--kind", "openai",
        "--base-url", "ftp://nowhere",
        "--key-env", "SECRET_KEY",
        "--models", MODELS,
    )  # fmt: skip
    assert r.exit_code != 0 and "base_url" in r.output and "key_env" in r.output
    r = _cli(
        sim_app,
        "add",
        "--name",
        "Bad",
        "--kind",
        "openai",
        "--base-url",
        "http://x",
        "--models",
        "{",
    )
    assert r.exit_code != 0 and "could not parse" in r.output
    with sim_app.app_context():
        assert db.session.scalar(select(Provider).where(Provider.name == "Bad")) is None


def test_admin_test_connection_reports_reachability_and_auth(sim_app, sim, monkeypatch):
    client = sim_app.test_client()
    client.post(
        "/auth/register",
        data={"email": "ada@example.com", "password": "correct horse", "confirm": "correct horse"},
    )
    good = factories.provider(sim_app, name="Good", base_url=sim.url, key_env="REELAY_SIM_KEY")
    monkeypatch.setenv("WRONG_GW_KEY", "nope")
    bad_key = factories.provider(sim_app, name="Bad key", base_url=sim.url, key_env="WRONG_GW_KEY")
    down = factories.provider(sim_app, name="Down", base_url="http://127.0.0.1:9")
    html = client.post(f"/admin/providers/{good}/test", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "Connected." in html
    html = client.post(f"/admin/providers/{bad_key}/test").get_data(as_text=True)
    assert "Problem:" in html and "nope" not in html
    html = client.post(f"/admin/providers/{down}/test").get_data(as_text=True)
    assert "Problem:" in html
    assert sim.stats()["created_total"] == 0
    bob = sim_app.test_client()
    user(sim_app, "bob@example.com")
    bob.post("/auth/login", data={"email": "bob@example.com", "password": "correct horse"})
    assert bob.post(f"/admin/providers/{good}/test").status_code == 403


def test_task_page_offers_only_what_the_provider_can_do(sim_app):
    client = sim_app.test_client()
    client.post(
        "/auth/register",
        data={"email": "ada@example.com", "password": "correct horse", "confirm": "correct horse"},
    )
    uid = user(sim_app)
    with sim_app.app_context():
        openai_id = db.session.scalar(select(Provider.id).where(Provider.kind == "openai"))
    fal_id = factories.provider(sim_app, name="Queue", kind="fal", base_url="http://127.0.0.1:9")
    remixable = factories.task(sim_app, uid, provider_id=openai_id)
    not_remixable = factories.task(sim_app, uid, provider_id=fal_id)
    assert "Remix this video" in client.get(f"/tasks/{remixable}").get_data(as_text=True)
    assert "Remix this video" not in client.get(f"/tasks/{not_remixable}").get_data(as_text=True)


def _admin_client(app):
    client = app.test_client()
    client.post(
        "/auth/register",
        data={"email": "ada@example.com", "password": "correct horse", "confirm": "correct horse"},
    )
    return client


def test_sync_models_copies_what_openrouter_lists_into_the_model_map(sim_app, sim):
    """The admin's "Sync models" reads OpenRouter's /videos/models: the form then offers
    only the durations and sizes the model takes, and a create asking for another is
    refused before anything is sent."""
    client = _admin_client(sim_app)
    with sim_app.app_context():
        pid = db.session.scalar(select(Provider.id).where(Provider.kind == "openrouter"))
        other = db.session.scalar(select(Provider.id).where(Provider.kind == "openai"))
        # a mapped model the list does not know keeps its settings
        p = db.session.get(Provider, pid)
        p.model_map = {**p.model_map, "or-sora": {"upstream": "openai/sora-2", "seconds": 4}}
        db.session.commit()
    page = client.get("/admin/providers").get_data(as_text=True)
    assert f"/admin/providers/{pid}/sync-models" in page
    assert f"/admin/providers/{other}/sync-models" not in page  # OpenAI-Videos lists no models
    html = client.post(f"/admin/providers/{pid}/sync-models", headers={"HX-Request": "true"})
    text = html.get_data(as_text=True)
    assert html.status_code == 200 and "openrouter/veo-3.1" in text and "or-sora" in text
    with sim_app.app_context():
        entry = db.session.get(Provider, pid).model_map
    assert entry["openrouter/veo-3.1"]["seconds_options"] == [4, 6, 8]
    assert entry["or-sora"]["seconds_options"] == [4, 8, 12]
    assert entry["or-sora"]["sizes"] == ["1280x720", "720x1280"]
    assert entry["or-sora"]["image_input"] is True
    uid = user(sim_app)
    with sim_app.app_context():
        from webapp.domain.validation import ValidationError
        from webapp.models import User
        from webapp.services import tasks

        u = db.session.get(User, uid)
        try:
            tasks.create(u, tasks.NewTask(prompt="a boat", model="or-sora", seconds=6))
        except ValidationError as exc:
            assert exc.code == "invalid_seconds" and "4, 8, 12" in exc.errors["seconds"]
        else:
            raise AssertionError("a duration the model does not take was accepted")
    assert sim.stats()["created_total"] == 0


def test_sync_models_cli_and_unreachable_provider(sim_app, sim):
    with sim_app.app_context():
        pid = db.session.scalar(select(Provider.id).where(Provider.kind == "openrouter"))
        plain = db.session.scalar(select(Provider.id).where(Provider.kind == "openai"))
    r = _cli(sim_app, "sync-models", str(pid))
    assert r.exit_code == 0 and "updated: openrouter/veo-3.1" in r.output
    assert "openai/sora-2" in r.output  # offered upstream but not mapped
    r = _cli(sim_app, "sync-models", str(plain))
    assert r.exit_code != 0 and "do not list their models" in r.output
    down = factories.provider(
        sim_app, name="Down", kind="openrouter", base_url="http://127.0.0.1:9"
    )
    client = _admin_client(sim_app)
    html = client.post(f"/admin/providers/{down}/sync-models").get_data(as_text=True)
    assert "Could not read the models" in html
