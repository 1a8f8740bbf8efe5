"""Bad input gets a clear 4xx, never a 500, and never leaves a half-written row: the
cases an outside check found, then arbitrary text and numbers (Hypothesis) thrown at
every form field, query parameter and JSON field, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Provider, User, VideoTask
from webapp.services import accounts, tasks

from . import factories

NUL = "a\x00b"
SURROGATE = "a\ud800b"


@pytest.fixture
def world(make_app, tmp_path):
    """An app with an admin (who owns one task) and a token, against an unreachable
    provider so creates never leave the machine."""
    app = make_app(API_RATE_LIMIT="100000 per minute", LOGIN_RATE_LIMIT="100000 per minute")
    pid = factories.provider(app, name="Unreachable", base_url="http://127.0.0.1:9")
    with app.app_context():
        admin = accounts.register("admin@example.com", "correct horse")
        token = accounts.create_token(admin, "fuzz")[1]
        uid = admin.id
    vid = factories.task(app, uid, provider_id=pid)
    client = app.test_client()
    client.post("/auth/login", data={"email": "admin@example.com", "password": "correct horse"})
    return app, client, {"Authorization": f"Bearer {token}"}, vid, pid


def counts(app):
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(VideoTask)),
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(Provider)),
        )


# ---- the cases that were 500s ---------------------------------------------------------


def test_nul_and_surrogates_in_json_get_invalid_characters(world):
    app, client, h, vid, _ = world
    before = counts(app)
    for text in (NUL, SURROGATE):
        for path, body in (
            ("/v1/videos", {"prompt": text, "model": "sora_video2"}),
            ("/api/video/tasks", {"prompt": text, "model": "sora_video2"}),
            (f"/api/video/tasks/{vid}/remix", {"prompt": text}),
            ("/api/video/mapping", {"videoId": text, "externalTaskId": "x", "apiConfigId": 1}),
            ("/v1/videos/query", {"video_id": text}),
        ):
            r = client.post(path, json=body, headers=h)
            assert r.status_code == 400, (path, text, r.status_code)
            assert "invalid_characters" in r.get_data(as_text=True)
    assert counts(app) == before


def test_nul_in_query_strings_and_paths(world):
    _app, client, h, _vid, _ = world
    for url in (
        "/tasks?q=a%00b",
        "/tasks?model=a%00b",
        "/admin/tasks?q=%00",
        "/v1/videos?after=video_%00",
        "/tasks/video_%00x",
        "/api/video/tasks/video_%00x",
    ):
        r = client.get(url, headers=h)
        assert r.status_code == 400, url


def test_nul_in_forms_is_an_error_next_to_the_field(world):
    app, client, _h, _vid, _ = world
    before = counts(app)
    r = client.post("/tasks", data={"prompt": NUL, "model": "sora_video2"})
    assert r.status_code == 422 and "cannot store" in r.get_data(as_text=True)
    anon = app.test_client()
    r = anon.post(
        "/auth/register",
        data={"email": "x\x00@example.com", "password": "p" * 9, "confirm": "p" * 9},
    )
    assert r.status_code == 422 and "cannot store" in r.get_data(as_text=True)
    r = client.post("/settings/tokens", data={"token-name": NUL})
    assert r.status_code == 422 and "cannot store" in r.get_data(as_text=True)
    assert counts(app) == before


def test_deeply_nested_json_is_refused(world):
    _app, client, h, _vid, _ = world
    for path in ("/v1/videos", "/api/video/tasks", "/api/auth/login"):
        r = client.post(path, data="[" * 100000, content_type="application/json", headers=h)
        assert r.status_code in (400, 422), path  # each API's "not a JSON object" answer
        assert r.is_json


def test_stats_dates_out_of_range_are_said_next_to_the_field(world):
    _app, client, _h, _vid, _ = world
    for url in (
        "/stats?from=0001-01-01&to=9999-12-31",
        "/admin/stats?to=9999-12-31",
        "/stats?from=2026-13-45",
    ):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "Choose a date between 2000-01-01 and 2999-12-31." in r.get_data(as_text=True)


def test_huge_and_odd_ids_in_filters(world):
    _app, client, h, _vid, _ = world
    for url in (
        "/tasks?provider=9223372036854775808",
        "/tasks?provider=1e20",
        "/admin/tasks?user=99999999999999999999",
        "/admin/stats?user=9223372036854775808",
        "/api/video/tasks?page=99999999999999999999&pageSize=1e20",
    ):
        assert client.get(url, headers=h).status_code < 500, url


def test_mapping_ids_are_full_matches(world):
    app, client, h, _vid, pid = world
    r = client.post(
        "/api/video/mapping",
        json={"videoId": "video_" + "a" * 32 + "\n", "externalTaskId": "job-1", "apiConfigId": pid},
        headers=h,
    )
    assert r.status_code == 422 and "videoId" in r.json["errors"]  # /api's validation answer
    with app.app_context():
        assert tasks.VIDEO_ID.fullmatch("video_" + "a" * 32)
        assert not tasks.VIDEO_ID.fullmatch("video_" + "a" * 32 + "\n")


# ---- anything at all ------------------------------------------------------------------

ODD = hs.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",
        "9223372036854775808",
        "-1",
        "0",
        "1e20",
        "NaN",
        "9999-12-31",
        "0001-01-01",
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "x" * 5000,
        "🎬" * 50,
    ]
)
TEXT = hs.one_of(ODD, hs.text(max_size=60), hs.integers().map(str), hs.floats().map(str))
# A form or a URL cannot carry a lone surrogate (a browser sends U+FFFD); JSON can.
WIRE_TEXT = TEXT.filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t))
JSON_VALUE = hs.one_of(
    TEXT,
    hs.integers(),
    hs.floats(allow_nan=False),
    hs.booleans(),
    hs.none(),
    hs.lists(hs.integers(), max_size=3),
)

FORMS = {
    "/tasks": ["prompt", "model", "provider", "size", "aspect_ratio", "seconds", "n", "watermark"],
    "/auth/register": ["email", "password", "confirm", "invite"],
    "/auth/login": ["email", "password"],
    "/auth/forgot": ["email"],
    "/settings/tokens": ["token-name", "token-scope", "token-expires"],
    "/settings/password": ["pw-current_password", "pw-new_password", "pw-confirm"],
    "/admin/providers/new": [
        "name",
        "kind",
        "base_url",
        "path_prefix",
        "auth_style",
        "key_env",
        "model_map",
        "sizes",
        "seconds_options",
        "price_per_second",
        "max_rps",
        "priority",
    ],
    "/admin/users/policy": ["policy"],
    "/admin/users/invites": ["note"],
}
QUERIES = {
    "/tasks": ["status", "media_type", "model", "provider", "q", "sort", "order", "page"],
    "/admin/tasks": ["status", "user", "q", "page", "sort"],
    "/stats": ["from", "to"],
    "/admin/stats": ["from", "to", "user"],
    "/v1/videos": ["after", "limit", "order"],
    "/api/video/tasks": ["page", "pageSize", "status", "mediaType", "orderBy", "order"],
    "/api/video/stats": ["from", "to"],
}
JSON = {
    "/v1/videos": ["prompt", "model", "seconds", "size", "input_reference"],
    "/api/video/tasks": [
        "prompt",
        "model",
        "size",
        "duration",
        "aspectRatio",
        "referenceImage",
        "apiConfigId",
        "watermark",
    ],
    "/api/video/mapping": ["videoId", "externalTaskId", "apiConfigId", "model"],
    "/v1/videos/query": ["video_id"],
    "/api/auth/login": ["email", "password"],
}
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _no_server_error(app, r, where, before):
    assert r.status_code < 500, f"{where} -> {r.status_code}"
    if r.status_code >= 400:
        assert counts(app) == before, f"{where} left a row behind"


@pytest.mark.parametrize("path", sorted(FORMS))
def test_any_text_in_any_form_field(world, path):
    app, client, _h, _vid, _ = world

    @FUZZ
    @given(values=hs.fixed_dictionaries({name: WIRE_TEXT for name in FORMS[path]}))
    def check(values):
        before = counts(app)
        r = client.post(path, data=values)
        _no_server_error(app, r, f"POST {path} {values!r}", before)

    check()


@pytest.mark.parametrize("path", sorted(QUERIES))
def test_any_text_in_any_query_parameter(world, path):
    app, client, h, _vid, _ = world

    @FUZZ
    @given(values=hs.fixed_dictionaries({name: WIRE_TEXT for name in QUERIES[path]}))
    def check(values):
        before = counts(app)
        r = client.get(path, query_string=values, headers=h)
        _no_server_error(app, r, f"GET {path} {values!r}", before)

    check()


@pytest.mark.parametrize("path", sorted(JSON))
def test_any_value_in_any_json_field(world, path):
    app, client, h, _vid, _ = world

    @FUZZ
    @given(values=hs.fixed_dictionaries({}, optional={name: JSON_VALUE for name in JSON[path]}))
    def check(values):
        before = counts(app)
        r = client.post(path, json=values, headers=h)
        if r.status_code < 400 and path in ("/v1/videos", "/api/video/tasks", "/api/video/mapping"):
            return  # a valid create made its row; nothing half-written to look for
        _no_server_error(app, r, f"POST {path} {values!r}", before)

    check()


def test_any_text_in_any_path_id(world):
    app, client, h, _vid, _ = world

    @FUZZ
    @given(value=WIRE_TEXT)
    def check(value):
        from urllib.parse import quote

        segment = quote(value, safe="") or "x"
        for url in (
            f"/tasks/{segment}",
            f"/v1/videos/{segment}",
            f"/api/video/tasks/{segment}",
            f"/auth/reset/{segment}",
        ):
            r = client.get(url, headers=h)
            assert r.status_code < 500, f"GET {url} -> {r.status_code}"

    check()
