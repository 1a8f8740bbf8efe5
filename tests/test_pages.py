"""The pages and their HTMX fragments, without a browser."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import Provider, User

from . import factories


def login(client, auth, email="ada@example.com"):
    auth.register(email)
    return client


def uid(app, email="ada@example.com"):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def test_progress_fragment_polls_then_stops_with_286(app, client, auth):
    login(client, auth)
    running = factories.task(app, uid(app), status=st.PROCESSING, progress=42)
    done = factories.task(app, uid(app), status=st.COMPLETED)
    r = client.get(f"/tasks/{running}/live", headers={"HX-Request": "true"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'hx-trigger="every 2s"' in html and "<html" not in html
    assert 'value="42"' in html
    r = client.get(f"/tasks/{done}/live", headers={"HX-Request": "true"})
    assert r.status_code == 286 and "hx-trigger" not in r.get_data(as_text=True)


def test_an_unchanged_running_task_is_answered_304_without_loading_or_rendering_it(
    app, client, auth, monkeypatch
):
    """The browser keeps a running task's fragment and asks "changed?" on every poll
    (If-None-Match): an unchanged task gets 304 and no body; any write to the task, or a
    new timeline event, gets the new fragment. A validator never crosses users or
    sessions (the fragment's forms carry the session's CSRF token)."""
    from sqlalchemy import update

    from webapp.models import TaskEvent, VideoTask
    from webapp.web import tasks as task_views

    auth.register("owner@example.com")
    owner = uid(app, "owner@example.com")
    running = factories.task(app, owner, status=st.PROCESSING, progress=42)
    url, hx = f"/tasks/{running}/live", {"HX-Request": "true"}

    first = client.get(url, headers=hx)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and 'value="42"' in first.text
    assert first.headers["Cache-Control"] == "private, no-cache"
    for junk in ('"', "W/", 'nonsense, W/"x", ""', "\u00e9" * 300):  # never a 500 or a 304
        assert client.get(url, headers={**hx, "If-None-Match": junk}).status_code == 200
    for bad_id in ("video_%00", "x" * 65, "%ED%A0%80"):  # ids no task can have
        asked = client.get(f"/tasks/{bad_id}/live", headers={**hx, "If-None-Match": "*"})
        assert asked.status_code in (400, 404), bad_id  # refused or not found, never 304

    def no_render(*a, **k):
        raise AssertionError("an unchanged fragment was rendered")

    with monkeypatch.context() as m:
        m.setattr(task_views, "render_template", no_render)
        m.setattr(task_views, "_task_or_404", no_render)
        again = client.get(url, headers={**hx, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag

    with app.app_context():  # the poller moves the progress bar
        db.session.execute(
            update(VideoTask).where(VideoTask.video_id == running).values(progress=60)
        )
        db.session.commit()
    moved = client.get(url, headers={**hx, "If-None-Match": etag})
    assert moved.status_code == 200 and 'value="60"' in moved.text
    assert moved.headers["ETag"] != etag
    etag = moved.headers["ETag"]
    assert client.get(url, headers={**hx, "If-None-Match": etag}).status_code == 304
    markup = app.extensions["reelay_live_markup"]
    app.extensions["reelay_live_markup"] = "a release with other markup"
    assert client.get(url, headers={**hx, "If-None-Match": etag}).status_code == 200
    app.extensions["reelay_live_markup"] = markup

    with app.app_context():  # a timeline event, the task row untouched
        task_id = db.session.scalar(select(VideoTask.id).where(VideoTask.video_id == running))
        db.session.add(TaskEvent(task_id=task_id, kind="info", message="The provider is slow"))
        db.session.commit()
    noted = client.get(url, headers={**hx, "If-None-Match": etag})
    assert noted.status_code == 200 and "The provider is slow" in noted.text
    etag = noted.headers["ETag"]

    auth.logout()  # the same user, a new session: its own CSRF token, so rendered
    auth.login("owner@example.com")
    assert client.get(url, headers={**hx, "If-None-Match": etag}).status_code == 200
    auth.logout()
    auth.register("mallory@example.com")  # another user with the owner's validator
    assert client.get(url, headers={**hx, "If-None-Match": etag}).status_code == 404

    with app.app_context():  # finished: the last fragment, in full, ends the polling
        db.session.execute(
            update(VideoTask).where(VideoTask.video_id == running).values(status=st.FAILED)
        )
        db.session.commit()
    auth.logout()
    auth.login("owner@example.com")
    etag = client.get(url, headers=hx).headers.get("ETag")
    done = client.get(url, headers={**hx, "If-None-Match": etag or "*"})
    assert done.status_code == 286 and "ETag" not in done.headers
    assert done.headers["Cache-Control"] == "no-store"


def test_task_page_shows_both_ids_and_timeline(app, client, auth):
    login(client, auth)
    vid = factories.task(app, uid(app), status=st.PROCESSING, external_task_id="video_upstream_abc")
    html = client.get(f"/tasks/{vid}").get_data(as_text=True)
    assert vid in html and "video_upstream_abc" in html and "seeded" in html
    assert "Cancel task" in html
    # Every time on the page says its zone, the timeline's too.
    stamp = re.search(
        r'<ol class="events">\s*<li><time datetime="[^"]+Z"[^>]*>([^<]+)</time>', html
    )
    assert re.fullmatch(r"\d\d:\d\d:\d\d UTC", stamp.group(1)), stamp


def test_failure_reason_in_plain_words(app, client, auth):
    login(client, auth)
    vid = factories.task(
        app,
        uid(app),
        status=st.FAILED,
        error_message="The prompt was refused by the provider's safety system.",
    )
    html = client.get(f"/tasks/{vid}").get_data(as_text=True)
    assert "could not be generated" in html and "safety system" in html


def test_other_users_task_is_404_everywhere(app, client, auth):
    auth.register("owner@example.com")
    auth.logout()
    vid = factories.task(app, uid(app, "owner@example.com"), status=st.COMPLETED)
    auth.register("mallory@example.com")
    for url in (
        f"/tasks/{vid}",
        f"/tasks/{vid}/live",
        f"/tasks/{vid}/row",
        f"/tasks/{vid}/content",
    ):
        assert client.get(url).status_code == 404, url
    for url in (f"/tasks/{vid}/cancel", f"/tasks/{vid}/refresh", f"/tasks/{vid}/remix"):
        assert client.post(url, data={"prompt": "x"}).status_code == 404, url
    assert vid not in client.get("/tasks").get_data(as_text=True)


def test_admin_sees_any_task(app, client, auth):
    auth.register("admin@example.com")
    auth.logout()
    auth.register("user@example.com")
    vid = factories.task(app, uid(app, "user@example.com"))
    auth.logout()
    auth.login("admin@example.com")
    assert client.get(f"/tasks/{vid}").status_code == 200
    html = client.get("/admin/tasks").get_data(as_text=True)
    assert vid in html and 'class="owner">user@example.com<' in html  # whose task it is
    assert "All tasks" in html and 'aria-label="Admin"' in html
    running = factories.task(app, uid(app, "user@example.com"), status=st.PROCESSING)
    row = client.get(f"/tasks/{running}/row?admin=1").get_data(as_text=True)
    assert "user@example.com" in row  # the live row keeps the owner


def test_history_paginates_and_filters(app, client, auth):
    login(client, auth)
    me = uid(app)
    for i in range(45):
        factories.task(
            app,
            me,
            status=st.COMPLETED if i % 3 else st.FAILED,
            prompt=f"boat {i:02d}",
            minutes_ago=i,
        )
    html = client.get("/tasks").get_data(as_text=True)
    assert "45 tasks" in html and "boat 00" in html and "boat 20" not in html
    page3 = client.get("/tasks?page=3", headers={"HX-Request": "true"})
    body = page3.get_data(as_text=True)
    assert page3.status_code == 200 and "<html" not in body and "boat 40" in body
    assert (
        client.get("/tasks?page=3").get_data(as_text=True).count("<html") == 1
    )  # reload = full page
    failed = client.get("/tasks?status=FAILED").get_data(as_text=True)
    assert "15 tasks" in failed
    search = client.get("/tasks?q=boat 1").get_data(as_text=True)
    assert "10 tasks" in search  # boat 10..19
    assert "No tasks match" in client.get("/tasks?q=zebra").get_data(as_text=True)
    # nonsense values never break the page
    assert client.get("/tasks?page=abc&status=nope&sort=evil&order=sideways").status_code == 200


def test_history_page_beyond_last_shows_last(app, client, auth):
    login(client, auth)
    factories.task(app, uid(app), prompt="only one")
    assert "only one" in client.get("/tasks?page=99").get_data(as_text=True)


def test_running_rows_poll_and_stop(app, client, auth):
    login(client, auth)
    running = factories.task(app, uid(app), status=st.QUEUED)
    html = client.get("/tasks").get_data(as_text=True)
    assert f'hx-get="/tasks/{running}/row"' in html
    assert client.get(f"/tasks/{running}/row").status_code == 200
    done = factories.task(app, uid(app), status=st.COMPLETED)
    assert client.get(f"/tasks/{done}/row").status_code == 286


def test_stats_pages(app, client, auth):
    login(client, auth)
    me = uid(app)
    pid = factories.provider(app, name="Main gateway")
    factories.task(app, me, pid, status=st.COMPLETED, took=30)
    factories.task(app, me, pid, status=st.COMPLETED, took=90)
    factories.task(app, me, pid, status=st.FAILED)
    html = client.get("/stats").get_data(as_text=True)
    assert "66.7%" in html and "Main gateway" in html and "sora_video2" in html
    admin = client.get(f"/admin/stats?user={me}").get_data(as_text=True)
    assert "66.7%" in admin and "<svg" in admin
    assert client.get("/admin/stats?from=garbage&to=2026-13-45").status_code == 200


def test_a_range_longer_than_a_year_is_cut_and_says_so_next_to_the_field(app, client, auth):
    login(client, auth)
    for path in ("/stats", "/admin/stats"):
        html = client.get(f"{path}?from=2020-01-01&to=2026-12-31").get_data(as_text=True)
        assert 'name="from" value="2025-12-31"' in html and 'aria-describedby="from-error"' in html
        assert "At most 366 days at a time: showing 2025-12-31 to 2026-12-31." in html
        html = client.get(f"{path}?from=2025-12-31&to=2026-12-31").get_data(as_text=True)
        assert "At most" not in html and 'value="2025-12-31"' in html


def test_stats_filter_by_provider_and_model(app, client, auth):
    """Both stats pages narrow to one provider or one model, and the CSV links keep it."""
    login(client, auth)
    me = uid(app)
    main = factories.provider(app, name="Main gateway")
    spare = factories.provider(app, name="Spare gateway")
    factories.task(app, me, main, status=st.COMPLETED)
    factories.task(app, me, main, status=st.FAILED, model="veo-3")
    factories.task(app, me, spare, status=st.COMPLETED)

    def tasks_card(html):
        return re.search(r"<small>Tasks</small><strong>(\d+)</strong>", html).group(1)

    for page in ("/stats", "/admin/stats"):
        assert tasks_card(client.get(page).get_data(as_text=True)) == "3"
        html = client.get(f"{page}?provider={main}").get_data(as_text=True)
        assert tasks_card(html) == "2"
        assert f'<option value="{main}" selected>' in html and f"provider={main}" in html
        html = client.get(f"{page}?provider={main}&model=veo-3").get_data(as_text=True)
        assert tasks_card(html) == "1" and "50.0%" not in html and "0.0%" in html
        assert client.get(f"{page}?provider=999999&model=nothing").status_code == 200


def test_a_long_stats_range_charts_weeks_and_the_csv_keeps_days(app, client, auth):
    """Past 92 days the chart draws a bar per week (a year of days is 1.6 px a bar);
    the CSV still has one line per day."""
    login(client, auth)
    factories.task(app, uid(app), factories.provider(app), status=st.COMPLETED)
    from datetime import timedelta

    from webapp.models.base import utcnow

    today = utcnow().date()
    span = f"from={today - timedelta(days=364)}&to={today}"
    html = client.get(f"/stats?{span}").get_data(as_text=True)
    assert "<h2>Per week</h2>" in html and "hover a week" in html
    assert html.count('class="bar-hit"') <= 2 * 53 + 2
    rows = client.get(f"/stats?{span}&format=csv").get_data(as_text=True)
    assert len(rows.strip().splitlines()) == 1 + 365
    short = client.get("/stats").get_data(as_text=True)
    assert "<h2>Per day</h2>" in short


def test_stats_filters_refuse_nothing_and_echo_nothing_raw(app, client, auth):
    """Hostile filter values: the page still answers, and never as markup."""
    login(client, auth)
    for page in ("/stats", "/admin/stats"):
        for q in (
            "provider=abc&model=%3Cscript%3Ealert(1)%3C/script%3E",
            "provider=-5&model=" + "x" * 5000,
            "provider=99999999999999999999",
        ):
            r = client.get(f"{page}?{q}")
            assert r.status_code == 200
            assert "<script>alert(1)" not in r.get_data(as_text=True)


def test_new_page_side_column_has_tips_until_there_are_recent_tasks(app, client, auth):
    """The right-hand column is never empty: first-time tips, then the recent tasks."""
    login(client, auth)
    pid = factories.provider(app)
    html = client.get("/tasks/new").get_data(as_text=True)
    assert "Your first generation" in html and "Recent</h2>" not in html
    factories.task(app, uid(app), pid, prompt="a paper boat")
    html = client.get("/tasks/new").get_data(as_text=True)
    assert "Recent</h2>" in html and "a paper boat" in html and "Your first generation" not in html


def test_new_task_page_without_providers(app, client, auth):
    login(client, auth)
    html = client.get("/tasks/new").get_data(as_text=True)
    assert "No provider is enabled yet" in html


def test_new_task_errors_next_to_fields(app, client, auth):
    login(client, auth)
    pid = factories.provider(app)
    r = client.post("/tasks", data={"prompt": "", "model": f"{pid}:sora_video2"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="prompt-error"' in html and "Write a prompt." in html
    r = client.post("/tasks", data={"prompt": "x", "model": f"{pid}:sora_video2", "seconds": "7"})
    assert r.status_code == 422 and "Duration must be one of 4, 8 seconds." in r.get_data(
        as_text=True
    )
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    r = client.post(
        "/tasks",
        data={
            "prompt": "",
            "model": f"{pid}:sora_video2",
            "reference_image": (io.BytesIO(buf.getvalue()), "ref.png"),
        },
    )
    html = r.get_data(as_text=True)
    assert "Write a prompt." in html and "please choose it again" in html


def test_settings_tokens_shown_once_and_revocable(app, client, auth):
    login(client, auth)
    html = client.post("/settings/tokens", data={"token-name": "laptop"}).get_data(as_text=True)
    assert "Copy your new token now" in html
    import re

    token = re.search(r'id="new-token">([^<]+)<', html).group(1)
    # The form below the new token is a fresh one: the next token is made on purpose.
    html = client.post(
        "/settings/tokens",
        data={"token-name": "ro2", "token-scope": "read", "token-expires": "30"},
    ).get_data(as_text=True)
    assert "Copy your new token now" in html
    form = html[html.index('name="token-name"') - 200 :]
    assert 'value="ro2"' not in form
    assert (
        re.search(r'<option (selected )?value="write"( selected)?>', form)
        .group(0)
        .count("selected")
    )
    assert not re.search(r'value="30" selected|selected value="30"', form)
    again = client.get("/settings/").get_data(as_text=True)
    assert token not in again and token[:8] in again
    from webapp.models import ApiToken

    with app.app_context():
        tid = db.session.scalar(select(ApiToken.id))
    client.post(f"/settings/tokens/{tid}/revoke")
    assert "revoked" in client.get("/settings/").get_data(as_text=True)


def test_change_password(app, client, auth):
    login(client, auth)
    r = client.post(
        "/settings/password",
        data={
            "pw-current_password": "wrong",
            "pw-new_password": "new password 1",
            "pw-confirm": "new password 1",
        },
    )
    assert r.status_code == 422 and "That is not your current password." in r.get_data(as_text=True)
    r = client.post(
        "/settings/password",
        data={
            "pw-current_password": "correct horse",
            "pw-new_password": "correct horse",
            "pw-confirm": "correct horse",
        },
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="pw-new_password-error"' in html
    assert "Choose a new password that differs from the current one." in html
    r = client.post(
        "/settings/password",
        data={
            "pw-current_password": "correct horse",
            "pw-new_password": "new password 1",
            "pw-confirm": "new password 1",
        },
    )
    assert r.status_code == 302
    auth.logout()
    assert auth.login(password="new password 1").status_code == 302


def test_admin_provider_form_errors_and_save(app, client, auth):
    login(client, auth)
    r = client.post(
        "/admin/providers/new",
        data={
            "name": "",
            "kind": "openai",
            "base_url": "ftp://x",
            "model_map": "{not json",
            "key_env": "sk-live-123",
        },
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "Not valid JSON" in html
    r = client.post(
        "/admin/providers/new",
        data={
            "name": "GW",
            "kind": "openai",
            "base_url": "ftp://x",
            "model_map": "{}",
            "key_env": "sk-live-123",
        },
    )
    html = r.get_data(as_text=True)
    assert "Enter an http(s) URL" in html and "environment variable NAME" in html
    r = client.post(
        "/admin/providers/new",
        data={
            "name": "GW",
            "kind": "openai",
            "base_url": "https://gw.example.com",
            "path_prefix": "/sora/v1",
            "auth_style": "raw",
            "key_env": "GW_KEY",
            "model_map": '{"sora_video2": {"upstream": "sora-2"}}',
            "sizes": "1280x720",
            "seconds_options": "4, 8",
            "price_per_second": "0.1",
            "max_rps": "5",
            "priority": "1",
            "enabled": "on",
        },
    )
    assert r.status_code == 302
    page = client.get("/admin/providers").get_data(as_text=True)
    assert "https://gw.example.com/sora/v1" in page and "$GW_KEY" in page and "not set" in page


def test_admin_providers_price_reads_per_image_for_image_models(app, client, auth):
    login(client, auth)
    factories.provider(app, name="Video gateway")
    factories.provider(
        app,
        name="Image gateway",
        model_map={"imagen": {"upstream": "img-1", "media_type": "IMAGE"}},
    )
    page = client.get("/admin/providers").get_data(as_text=True)
    video, image = page.index("Video gateway"), page.index("Image gateway")
    video_part, image_part = (
        (page[video:image], page[image:]) if video < image else (page[video:], page[image:video])
    )
    assert "$0.10 / s ·" in video_part and "per image" not in video_part
    assert "$0.10 per image ·" in image_part and "/ s" not in image_part


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "HOME"])
def test_provider_cannot_borrow_the_servers_own_secrets(app, client, auth, name):
    """ "Test connection" sends the named variable to the provider's URL: only names that
    look like an upstream credential, and none of Reelay's own, may be used."""
    login(client, auth)
    r = client.post(
        "/admin/providers/new",
        data={
            "name": "Exfil",
            "kind": "openai",
            "base_url": "https://attacker.example",
            "auth_style": "raw",
            "key_env": name,
            "model_map": '{"sora_video2": {"upstream": "sora-2"}}',
        },
    )
    assert r.status_code == 422 and "environment variable NAME" in r.get_data(as_text=True)
    with app.app_context():
        assert not db.session.scalar(select(Provider).where(Provider.name == "Exfil"))


def test_provider_key_never_rendered(app, client, auth, monkeypatch):
    login(client, auth)
    monkeypatch.setenv("SECRET_GW_KEY", "sk-very-secret-value")
    factories.provider(app, name="Keyed", key_env="SECRET_GW_KEY")
    for url in ("/admin/providers", "/tasks/new"):
        assert "sk-very-secret-value" not in client.get(url).get_data(as_text=True)


def test_the_filter_bar_shows_a_provider_edit_at_once_and_another_processs_soon(
    app, client, auth, monkeypatch
):
    """The filter bar's providers are remembered for a few seconds per process: an
    edit made in this process shows at once; one made elsewhere (here: SQL that no
    mapper event sees, as from another host) shows once FILTER_PROVIDERS_TTL passes."""
    from sqlalchemy import insert

    from webapp.services import history

    login(client, auth)
    factories.provider(app, name="First gateway")
    assert "First gateway" in client.get("/tasks").text
    factories.provider(app, name="Second gateway")  # this process: forgotten at once
    assert "Second gateway" in client.get("/tasks").text
    with app.app_context():
        row = {c: getattr(db.session.get(Provider, 1), c) for c in ("kind", "base_url")}
        db.session.execute(
            insert(Provider).values(
                name="Elsewhere gateway", path_prefix="/v1", auth_style="bearer", **row
            )
        )
        db.session.commit()
    assert "Elsewhere gateway" not in client.get("/tasks").text  # remembered for now
    monkeypatch.setattr(history, "FILTER_PROVIDERS_TTL", 0.0)
    assert "Elsewhere gateway" in client.get("/tasks").text
    assert "Elsewhere gateway" in client.get("/stats").text


def test_a_history_row_asked_for_a_column_it_does_not_load_fails_loudly(app, auth, client):
    """List rows are plain columns; Jinja would render a missing attribute as nothing,
    so a template that starts to need one more column must fail its tests instead."""
    from webapp.services import history

    login(client, auth)
    factories.task(app, uid(app), prompt="a listed task")
    with app.test_request_context("/tasks"):
        user = db.session.get(User, uid(app))
        row = history.page_for(user, history.parse_query({})).items[0]
        env = app.jinja_env
        assert env.from_string("{{ t.prompt }} {{ t.is_terminal }}").render(t=row) == (
            "a listed task True"
        )
        with pytest.raises(LookupError, match="external_task_id"):
            env.from_string("{{ t.external_task_id }}").render(t=row)


def test_deep_pages_list_the_same_tasks_as_shallow_ones(app, auth, client, monkeypatch):
    """Past ``DEEP_OFFSET`` a page picks its ids first, then reads their rows; every sort,
    order and filter must list exactly what the plain OFFSET query lists, ties in the
    sort key and unfinished tasks (no completion time) included, in the pages and in the
    JSON API's pages."""
    from sqlalchemy import text

    from webapp.services import history

    login(client, auth)
    me = uid(app)
    statuses = (st.COMPLETED, st.FAILED, st.PROCESSING, st.COMPLETED, st.CANCELLED)
    for i in range(47):
        status = statuses[i % 5]
        took = {"took": 7 + i % 4} if status in st.TERMINAL else {}
        factories.task(app, me, status=status, minutes_ago=i, **took)
    with app.app_context():
        other = User(email="other@example.com", password_hash="x")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    factories.task(app, other_id, prompt="not mine")
    with app.app_context():  # ties: a third of the tasks share one creation time
        db.session.execute(
            text("UPDATE video_tasks SET created_at = :t WHERE id % 3 = 0"),
            {"t": datetime(2026, 12, 1, 12, 0)},
        )
        db.session.commit()
    queries = [
        {"sort": sort, "order": order, **extra}
        for sort in ("created", "completed", "duration")
        for order in ("desc", "asc")
        for extra in ({}, {"status": st.COMPLETED})
    ]
    with app.test_request_context("/tasks"):
        user = db.session.get(User, me)

        def listed(deep: int, args: dict, api: bool) -> list[list[str]]:
            monkeypatch.setattr(history, "DEEP_OFFSET", deep)
            read = history.api_page_for if api else history.page_for
            pages = [
                [t.video_id for t in read(user, history.parse_query({**args, "page": p}, 6)).items]
                for p in range(1, 11)
            ]
            db.session.rollback()
            return pages

        for args in queries:
            for api in (False, True):
                shallow = listed(10**9, args, api)
                assert any(shallow[2:]), args  # deep pages hold tasks
                assert listed(0, args, api) == shallow, (args, api)


def test_durations_read_as_the_ticking_clock_rounds_them():
    """static/js/app.js counts elapsed time with Math.round (halves up); the server's
    render must agree, or the figure jumps by a second at the first tick."""
    from webapp.web.filters import format_duration

    assert [format_duration(s) for s in (0.4, 0.5, 2.5, 59.5, 119.5, 3599.5, 3600)] == [
        "0s",
        "1s",
        "3s",
        "1m 00s",
        "2m 00s",
        "1h 00m",
        "1h 00m",
    ]
    assert format_duration(None) == "—"


def test_a_result_without_a_thumbnail_still_reads_as_finished(app, client, auth):
    """A provider without thumbnails (Veo): its finished video is not drawn like a failed
    or cancelled task."""
    login(client, auth)
    done = factories.task(app, uid(app), status=st.COMPLETED, prompt="veo result")
    failed = factories.task(app, uid(app), status=st.FAILED, prompt="refused one")
    html = client.get("/tasks").get_data(as_text=True)

    def thumb_of(vid):
        row = html[html.index(f'id="row-{vid}"') :]
        return re.search(r'<span class="thumb thumb-empty([^"]*)"[^>]*>([^<]*)<', row).groups()

    assert thumb_of(done) == (" thumb-ready", "▶")
    assert thumb_of(failed) == (" thumb-failed", "✕")
