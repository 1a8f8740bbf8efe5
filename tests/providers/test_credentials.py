"""A provider key goes only to its own host: fake upstreams that redirect elsewhere and
hand back foreign URLs, and a second server that records what reaches it."""

from __future__ import annotations

import threading

import pytest
from flask import Flask, jsonify, redirect, request
from werkzeug.serving import make_server

from webapp.providers import addresses
from webapp.providers import base as pb
from webapp.providers.base import Job, ProviderConfig
from webapp.providers.http import make_session
from webapp.providers.registry import build

KEY = "sk-home-only-0123456789"


class Server:
    """A tiny upstream on loopback that records every request's headers."""

    def __init__(self, app: Flask):
        self.seen: list[dict] = []

        @app.before_request
        def record():
            self.seen.append({"path": request.path, **{k.lower(): v for k, v in request.headers}})

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        self._server.shutdown()

    def leaked(self) -> bool:
        """Did any request carry the key, in any header?"""
        return any(KEY in value for headers in self.seen for value in headers.values())


@pytest.fixture
def elsewhere():
    app = Flask("elsewhere")

    @app.route("/<path:anything>", methods=["GET", "POST", "PUT", "DELETE"])
    def anything(anything):
        return jsonify({"status": "completed", "id": "x"})

    server = Server(app)
    yield server
    server.stop()


@pytest.fixture
def home(elsewhere):
    """Every route of the provider points at ``elsewhere``: by redirect or by URL."""
    app = Flask("home")
    away = elsewhere.url

    @app.get("/v1/videos/<vid>")
    def openai_status(vid):
        return redirect(f"{away}/stolen/openai-status", 302)

    @app.get("/v1/videos")
    def openai_list():
        return redirect(f"{away}/stolen/openai-list", 307)

    @app.get("/v1beta/operations/<op>")
    def gemini_op(op):
        return redirect(f"{away}/stolen/gemini-op", 302)

    @app.get("/v1beta/models")
    def gemini_check():
        return redirect(f"{away}/stolen/gemini-check", 302)

    @app.post("/fal-ai/model")
    def fal_submit():
        return jsonify(
            {
                "request_id": "r1",
                "status_url": f"{away}/stolen/fal-status",
                "response_url": f"{away}/stolen/fal-response",
                "cancel_url": f"{away}/stolen/fal-cancel",
            }
        )

    @app.post("/v1/predictions")
    @app.post("/v1/models/<owner>/<name>/predictions")
    def replicate_submit(owner=None, name=None):
        return jsonify(
            {
                "id": "p1",
                "status": "starting",
                "urls": {
                    "get": f"{away}/stolen/replicate-get",
                    "cancel": f"{away}/stolen/replicate-cancel",
                },
            }
        )

    server = Server(app)
    yield server
    server.stop()


def adapter(kind, url, prefix="/v1", networks="loopback"):
    cfg = ProviderConfig(
        kind=kind,
        base_url=url,
        path_prefix=prefix,
        api_key=KEY,
        connect_timeout=2,
        read_timeout=5,
        networks=networks,
    )
    return build(cfg, make_session(2))


def test_openai_redirects_are_followed_without_the_key(home, elsewhere):
    a = adapter("openai", home.url)
    a.status("video_1", {})
    a.check()
    assert [s["path"] for s in elsewhere.seen] == ["/stolen/openai-status", "/stolen/openai-list"]
    assert not elsewhere.leaked()
    assert any(KEY in h.get("authorization", "") for h in home.seen)  # home did get it


def test_gemini_key_header_never_follows_a_redirect(home, elsewhere):
    a = adapter("gemini", home.url, prefix="/v1beta")
    a.status("operations/op1", {})  # whatever the other host says, it gets no key
    a.check()
    assert {s["path"] for s in elsewhere.seen} >= {"/stolen/gemini-op", "/stolen/gemini-check"}
    assert not elsewhere.leaked()


def test_fal_and_replicate_handle_urls_on_another_host_get_no_key(home, elsewhere):
    fal = adapter("fal", home.url, prefix="")
    submitted = fal.submit(Job(model="fal-ai/model", prompt="p"))
    fal.status(submitted.external_id, submitted.handles)
    fal.cancel(submitted.external_id, submitted.handles)
    rep = adapter("replicate", home.url)
    submitted = rep.submit(Job(model="owner/model", prompt="p"))
    rep.status(submitted.external_id, submitted.handles)
    rep.cancel(submitted.external_id, submitted.handles)
    paths = {s["path"] for s in elsewhere.seen}
    assert {"/stolen/fal-status", "/stolen/fal-cancel", "/stolen/replicate-get"} <= paths
    assert not elsewhere.leaked()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://0.0.0.0:8000/",
    ],
)
def test_metadata_and_link_local_addresses_are_always_refused(url):
    for allowed in addresses.NETWORKS:
        with pytest.raises(addresses.AddressRefused):
            addresses.check(url, allowed)


def test_loopback_and_private_need_the_setting():
    with pytest.raises(addresses.AddressRefused, match="loopback"):
        addresses.check("http://[::1]:5432/", "public")
    with pytest.raises(addresses.AddressRefused, match="private"):
        addresses.check("http://10.1.2.3/", "loopback")
    addresses.check("http://[::1]:5432/", "loopback")
    addresses.check("http://10.1.2.3/", "private")
    addresses.check("https://api.replicate.com/v1", "public")  # unresolvable here: let through


def test_a_result_url_on_a_metadata_address_is_never_fetched(home):
    """An upstream that answers with a metadata URL as the result gets no request."""
    a = adapter("openai", home.url)
    with pytest.raises(pb.PermanentError) as info:
        a.send("GET", "http://169.254.169.254/latest/meta-data/iam/")
    assert info.value.code == "address_refused"


def test_public_only_refuses_a_loopback_provider(home):
    a = adapter("openai", home.url, networks="public")
    with pytest.raises(pb.PermanentError, match="loopback"):
        a.status("video_1", {})
    assert home.seen == []


def test_admin_cannot_save_a_provider_on_a_forbidden_address(make_app):
    app = make_app(UPSTREAM_NETWORKS="public")
    client = app.test_client()
    client.post(
        "/auth/register",
        data={"email": "a@example.com", "password": "correct horse", "confirm": "correct horse"},
    )
    for base in ("http://169.254.169.254", "http://[::1]:5432", "http://127.0.0.1:8001"):
        r = client.post(
            "/admin/providers/new",
            data={
                "name": "Evil",
                "kind": "openai",
                "base_url": base,
                "path_prefix": "/v1",
                "auth_style": "bearer",
                "model_map": '{"m": {"upstream": "m"}}',
            },
        )
        assert r.status_code == 422 and "does not send requests there" in r.get_data(
            as_text=True
        ), base
