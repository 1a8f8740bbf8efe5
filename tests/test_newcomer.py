"""What a newcomer tripped on: addresses, the start-up banner, filters that vanish on
page 2, finding a task by its id, the admin's owner filter."""

from __future__ import annotations

import re

from sqlalchemy import select

from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import Provider, User, VideoTask
from webapp.services import history, startup

from . import factories


def login(client, auth, email="ada@example.com"):
    auth.register(email)


def uid(app, email="ada@example.com"):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def test_login_and_register_addresses_people_type(client):
    r = client.get("/login?next=/tasks")
    assert r.status_code == 301 and r.headers["Location"].endswith("/auth/login?next=/tasks")
    assert client.get("/register").headers["Location"].endswith("/auth/register")


def test_pager_keeps_a_filter_whose_value_is_1(app, client, auth):
    login(client, auth)
    pid = factories.provider(app)
    assert pid == 1
    for i in range(25):
        factories.task(app, uid(app), provider_id=pid, prompt=f"boat {i}", minutes_ago=i)
    html = client.get("/tasks?provider=1").get_data(as_text=True)
    links = re.findall(r'href="(/tasks\?[^"]*page=2[^"]*)"', html)
    assert links and all("provider=1" in link.replace("&amp;", "&") for link in links)


def test_query_args_leave_empty_filters_and_page_one_out():
    q = history.Query(page=1, provider_id=1, user_id=1, q="", model=None)
    assert q.args() == {"provider": 1, "user": 1}
    assert q.args(page=2) == {"page": 2, "provider": 1, "user": 1}


def test_search_finds_a_task_by_reelay_id_and_upstream_id(app, client, auth):
    login(client, auth)
    me = uid(app)
    target = factories.task(app, me, prompt="a lighthouse", external_task_id="task_ABC123")
    factories.task(app, me, prompt="something else")
    by_ours = client.get(f"/tasks?q={target}").get_data(as_text=True)
    assert "1 task" in by_ours and "a lighthouse" in by_ours
    by_theirs = client.get("/tasks?q=task_ABC123").get_data(as_text=True)
    assert "1 task" in by_theirs and "a lighthouse" in by_theirs
    # Someone else's id finds nothing.
    auth.logout()
    login(client, auth, "eve@example.com")
    assert "No tasks match" in client.get(f"/tasks?q={target}").get_data(as_text=True)


def test_admin_all_tasks_filters_by_owner_email(app, client, auth):
    login(client, auth, "admin@example.com")
    auth.logout()
    login(client, auth, "grace@example.com")
    factories.task(app, uid(app, "grace@example.com"), prompt="grace boat")
    factories.task(app, uid(app, "admin@example.com"), prompt="admin boat")
    auth.logout()
    auth.login("admin@example.com")
    html = client.get("/admin/tasks?owner=Grace@Example.com").get_data(as_text=True)
    assert "grace boat" in html and "admin boat" not in html
    assert 'name="owner"' in html


def test_startup_summary_names_providers_and_the_admin_hint(app, monkeypatch):
    factories.provider(app, name="Gateway A")
    factories.provider(app, name="Keyless", key_env="NOT_SET_GATEWAY_KEY")
    lines = startup.summary(app)
    assert any(
        line.startswith("provider: Gateway A (openai, sora_video2) - offered") for line in lines
    )
    assert any("Keyless" in line and "not offered: $NOT_SET_GATEWAY_KEY" in line for line in lines)
    assert any("first one you register becomes the admin" in line for line in lines)


def test_gunicorn_has_no_shared_control_socket_and_says_when_ready():
    import runpy

    conf = runpy.run_path("gunicorn.conf.py")
    assert conf.get("control_socket_disable") is True
    assert callable(conf["when_ready"])


def test_states_are_filterable_without_values_of_one(app, client, auth):
    login(client, auth)
    factories.task(app, uid(app), status=st.FAILED)
    assert client.get("/tasks?status=FAILED&user=").status_code == 200


def test_a_failed_refresh_says_so_on_the_task_page(app, client, auth):
    login(client, auth)
    vid = factories.task(
        app,
        uid(app),
        archive={"video": {"key": "x", "content_type": "video/mp4", "size": 10}},
        upstream_data={
            "refreshed_at": "2026-12-03T10:00:00",
            "refresh_error": "the provider no longer has this job; the archived copy is kept",
        },
    )
    html = client.get(f"/tasks/{vid}").get_data(as_text=True)
    assert "Refresh failed" in html and "no longer has this job" in html
    assert "Refreshed 2026" not in html


def test_the_live_fragment_keeps_the_playing_video(app, client, auth):
    login(client, auth)
    vid = factories.task(
        app, uid(app), archive={"video": {"key": "x", "content_type": "video/mp4", "size": 10}}
    )
    html = client.get(f"/tasks/{vid}/live", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-preserve="true"' in html and 'aria-label="Generated video: ' in html


def test_a_20_mb_image_is_refused_next_to_its_field_with_the_prompt_kept(app, client, auth):
    import io

    pid = factories.provider(
        app,
        model_map={"sora_video2": {"upstream": "sora-2", "size": "1280x720", "seconds": 8}},
    )
    login(client, auth)
    big = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * (20 * 1024 * 1024))
    resp = client.post(
        "/tasks",
        data={
            "prompt": "a lighthouse at dawn",
            "model": f"{pid}:sora_video2",
            "reference_image": (big, "big.png"),
        },
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code in (413, 422)
    assert 'id="reference_image-error"' in html and "10 MB" in html
    assert "a lighthouse at dawn" in html  # the rest of the form is kept


def test_far_too_large_upload_still_answers_with_the_form(app, client, auth):
    import io

    factories.provider(app)
    login(client, auth)
    huge = io.BytesIO(b"\0" * (65 * 1024 * 1024))
    resp = client.post(
        "/tasks",
        data={"prompt": "p", "model": "1:sora_video2", "reference_image": (huge, "x.png")},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 413
    assert 'id="reference_image-error"' in html and 'id="new-task"' in html


def test_size_must_fit_the_aspect_ratio(app, client, auth):
    pid = factories.provider(app)
    login(client, auth)
    resp = client.post(
        "/tasks",
        data={
            "prompt": "a boat",
            "model": f"{pid}:sora_video2",
            "aspect_ratio": "9:16",
            "size": "1280x720",
        },
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Size 1280x720 is not 9:16; choose 720x1280." in html
    assert 'data-max-bytes="10485760"' in html


def test_an_aspect_ratio_the_model_cannot_make_is_refused_next_to_its_field(app, client, auth):
    """Not made in another shape and labelled with the one asked for (a square "9:16"
    image): the model's shapes are named, and nothing is created."""
    square = factories.provider(
        app,
        model_map={"imagen": {"upstream": "img-1", "label": "Square image", "media_type": "IMAGE"}},
    )
    with app.app_context():
        p = db.session.get(Provider, square)
        p.sizes = ["1024x1024"]
        db.session.commit()
    pid = factories.provider(app)
    login(client, auth)
    for model, aspect, message in (
        (f"{square}:imagen", "9:16", "Square image makes 1:1 only; choose it."),
        (f"{pid}:sora_video2", "1:1", "sora_video2 makes 16:9 or 9:16 only; choose one of them."),
    ):
        resp = client.post(
            "/tasks", data={"prompt": "a boat", "model": model, "aspect_ratio": aspect}
        )
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422, model
        assert 'id="aspect_ratio-error"' in html and message in html
    resp = client.post(
        "/tasks", data={"prompt": "a boat", "model": f"{pid}:sora_video2", "aspect_ratio": "9:16"}
    )
    assert resp.status_code in (302, 303)
    # A provider that takes an aspect ratio of its own (Gemini's imageConfig.aspectRatio)
    # makes the shape asked for at a size of its choosing: no size is claimed for it.
    gemini = factories.provider(
        app,
        kind="gemini",
        model_map={"imagen": {"upstream": "img-1", "label": "Gemini", "media_type": "IMAGE"}},
    )
    with app.app_context():
        db.session.get(Provider, gemini).sizes = ["1024x1024"]
        db.session.commit()
    resp = client.post(
        "/tasks", data={"prompt": "a tall one", "model": f"{gemini}:imagen", "aspect_ratio": "9:16"}
    )
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[-2000:]
    with app.app_context():
        made = db.session.scalars(select(VideoTask).order_by(VideoTask.id)).all()
        assert [(t.size, t.aspect_ratio) for t in made] == [("720x1280", "9:16"), (None, "9:16")]
    # Veo takes 16:9 and 9:16 only (no square video): a square ask is refused, not made
    # wide and labelled 1:1.
    veo = factories.provider(
        app,
        kind="gemini",
        model_map={"veo": {"upstream": "veo-3.1-generate-preview", "label": "Veo"}},
    )
    resp = client.post(
        "/tasks", data={"prompt": "a square", "model": f"{veo}:veo", "aspect_ratio": "1:1"}
    )
    assert resp.status_code == 422
    assert "Veo makes 16:9 or 9:16 only; choose one of them." in resp.get_data(as_text=True)
    page = client.get("/tasks/new").get_data(as_text=True)
    assert f'value="{veo}:veo"' in page
    option = page[page.index(f'value="{veo}:veo"') :]
    assert 'data-shapes="16:9,9:16"' in option[: option.index("</option>")]


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def _with_reference(app, user_id) -> str:
    from webapp.services import archive

    vid = factories.task(app, user_id, status=st.FAILED, prompt="a red square, slowly turning")
    with app.app_context():
        from webapp.models import VideoTask

        t = db.session.scalar(select(VideoTask).where(VideoTask.video_id == vid))
        t.reference_image_key = archive.save_reference(vid, _png(), "image/png")
        t.options = {"hd": True}
        db.session.commit()
    return vid


def test_task_page_shows_reference_inputs_and_api_call(app, client, auth):
    login(client, auth)
    vid = _with_reference(app, uid(app))
    html = client.get(f"/tasks/{vid}").get_data(as_text=True)
    assert f'src="/tasks/{vid}/reference"' in html
    ref = client.get(f"/tasks/{vid}/reference")
    assert ref.status_code == 200 and ref.mimetype == "image/png"
    assert "Inputs sent" in html and '"reference_image": true' in html
    assert "Copy as API call" in html and "client.videos.create(" in html
    assert "curl http://localhost/v1/videos" in html
    # Another user sees neither the page nor the image.
    auth.logout()
    login(client, auth, "eve@example.com")
    assert client.get(f"/tasks/{vid}/reference").status_code == 404


def test_use_as_a_new_task_prefills_the_form_and_reuses_the_reference(app, client, auth):
    pid = factories.provider(
        app,
        model_map={"sora_video2": {"upstream": "sora-2", "size": "1280x720", "seconds": 8}},
    )
    login(client, auth)
    vid = _with_reference(app, uid(app))
    with app.app_context():
        from webapp.models import VideoTask

        t = db.session.scalar(select(VideoTask).where(VideoTask.video_id == vid))
        t.provider_id = pid
        db.session.commit()
    html = client.get(f"/tasks/new?from={vid}").get_data(as_text=True)
    assert "a red square, slowly turning" in html
    assert f'value="{pid}:sora_video2" selected' in html
    assert f'name="reference_from" value="{vid}" checked' in html
    resp = client.post(
        "/tasks",
        data={
            "prompt": "a red square, slowly turning",
            "model": f"{pid}:sora_video2",
            "reference_from": vid,
        },
    )
    assert resp.status_code == 303
    with app.app_context():
        from webapp.models import VideoTask

        newest = db.session.scalar(select(VideoTask).order_by(VideoTask.id.desc()))
        assert newest.video_id != vid and newest.reference_image_key


def test_delete_from_the_task_page(app, client, auth):
    login(client, auth)
    vid = factories.task(app, uid(app))
    html = client.get(f"/tasks/{vid}").get_data(as_text=True)
    assert f'action="/tasks/{vid}/delete"' in html and "data-confirm=" in html
    resp = client.post(f"/tasks/{vid}/delete")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/tasks")
    assert "Task deleted" in client.get("/tasks").get_data(as_text=True)
    assert client.get(f"/tasks/{vid}").status_code == 404


def test_a_delete_that_finds_the_task_gone_meanwhile_says_deleted(app, client, auth, monkeypatch):
    """A second click or another tab deleted it while this delete waited for the row:
    the page says it is deleted (single and bulk), never an error page."""
    from sqlalchemy import delete as sql_delete

    from webapp.services import locks

    login(client, auth)
    real_lock = locks.for_update

    def gone_meanwhile(conn, model, column, key):
        if model is VideoTask:
            with db.engine.begin() as other:
                other.execute(sql_delete(VideoTask).where(VideoTask.id == key))
        return real_lock(conn, model, column, key)

    for path, data in (("/tasks/{}/delete", {}), ("/tasks/bulk", {"action": "delete"})):
        vid = factories.task(app, uid(app))
        monkeypatch.setattr(locks, "for_update", gone_meanwhile)
        url = path.format(vid)
        resp = client.post(url, data={**data, "ids": [vid]} if "bulk" in url else data)
        monkeypatch.setattr(locks, "for_update", real_lock)
        assert resp.status_code == 303, url
        page = client.get(resp.headers["Location"]).get_data(as_text=True)
        assert "Task deleted" in page or "Deleted 1 task." in page, url
        assert client.get(f"/tasks/{vid}").status_code == 404


def test_running_task_shows_elapsed_and_typical_time(app, client, auth):
    login(client, auth)
    for _ in range(3):
        factories.task(app, uid(app), took=90)
    vid = factories.task(app, uid(app), status=st.PROCESSING)
    html = client.get(f"/tasks/{vid}/live", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Elapsed" in html and "sora_video2 usually takes about 1m 30s" in html


def _archived(app, user_id, prompt):
    from webapp.services import archive

    vid = factories.task(app, user_id, prompt=prompt)
    with app.app_context():
        from webapp.models import VideoTask

        key = f"videos/{vid}.mp4"
        archive.store().put_stream(key, [b"\0\0\0\x18ftypmp42" + prompt.encode()], "video/mp4")
        t = db.session.scalar(select(VideoTask).where(VideoTask.video_id == vid))
        t.archive = {"video": {"key": key, "content_type": "video/mp4", "size": 20}}
        db.session.commit()
    return vid


def test_gallery_zip_of_selected_results(app, client, auth):
    import io
    import zipfile

    login(client, auth)
    a = _archived(app, uid(app), "first boat")
    b = _archived(app, uid(app), "second boat")
    html = client.get("/tasks?view=grid").get_data(as_text=True)
    assert 'class="gallery"' in html and f'value="{a}"' in html
    resp = client.post("/tasks/bulk", data={"action": "zip", "ids": [a, b]})
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.get_data())) as zf:
        assert sorted(zf.namelist()) == sorted([f"{a}.mp4", f"{b}.mp4"])
        assert zf.read(f"{a}.mp4").endswith(b"first boat")

    # A task without a file is named in the zip, with the reason, not silently left out.
    failed = factories.task(app, uid(app), status=st.FAILED)
    resp = client.post("/tasks/bulk", data={"action": "zip", "ids": [a, failed]})
    with zipfile.ZipFile(io.BytesIO(resp.get_data())) as zf:
        assert sorted(zf.namelist()) == sorted([f"{a}.mp4", "NOT-INCLUDED.txt"])
        assert (
            f"{failed}: not included: it failed, so it has no file."
            in zf.read("NOT-INCLUDED.txt").decode()
        )
    # Nothing with a file: said on the page, no empty zip.
    resp = client.post("/tasks/bulk", data={"action": "zip", "ids": [failed]})
    assert resp.status_code == 303
    assert "only completed ones do" in client.get("/tasks?view=grid").get_data(as_text=True)


def test_gallery_bulk_delete_only_touches_own_tasks(app, client, auth):
    login(client, auth, "eve@example.com")
    theirs = factories.task(app, uid(app, "eve@example.com"))
    auth.logout()
    login(client, auth)
    mine = factories.task(app, uid(app))
    resp = client.post(
        "/tasks/bulk", data={"action": "delete", "ids": [mine, theirs], "back": "//evil.example"}
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/tasks?view=grid"
    assert client.get(f"/tasks/{mine}").status_code == 404
    with app.app_context():
        from webapp.models import VideoTask

        assert db.session.scalar(select(VideoTask).where(VideoTask.video_id == theirs))


def test_history_csv_export_follows_the_filters(app, client, auth):
    login(client, auth)
    factories.task(app, uid(app), prompt="=HYPERLINK(evil)", status=st.FAILED)
    factories.task(app, uid(app), prompt="a calm lake")
    resp = client.get("/tasks?format=csv&status=FAILED")
    text = resp.get_data(as_text=True)
    assert resp.mimetype == "text/csv"
    assert text.splitlines()[0].startswith("video_id,upstream_id,status")
    assert "'=HYPERLINK(evil)" in text and "a calm lake" not in text


def test_stats_chart_has_axes_and_csv(app, client, auth):
    login(client, auth)
    factories.task(app, uid(app), cost=0.5)
    html = client.get("/stats").get_data(as_text=True)
    assert 'axis-label"' in html and "<title>" in html and "Cost per day" in html
    csv = client.get("/stats?format=csv").get_data(as_text=True)
    assert csv.splitlines()[0] == "date,tasks,completed,failed,cost"
    assert csv.strip().splitlines()[-1].endswith(",1,1,0,0.5000")


def test_add_provider_form_shows_every_error_in_one_round(app, client, auth):
    login(client, auth, "admin@example.com")
    resp = client.post(
        "/admin/providers/new",
        data={
            "name": "",
            "kind": "nope",
            "base_url": "ftp://x",
            "path_prefix": "no slash",
            "key_env": "SECRET_KEY",
            "model_map": "{not json",
            "seconds_options": "four",
            "sizes": "big",
            "weight": "-1",
        },
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for name in (
        "name",
        "kind",
        "base_url",
        "path_prefix",
        "key_env",
        "model_map",
        "seconds_options",
        "sizes",
        "weight",
    ):
        assert f'id="{name}-error"' in html, name
    assert "Not valid JSON" in html


def test_admin_all_tasks_csv_has_owners(app, client, auth):
    login(client, auth, "admin@example.com")
    factories.task(app, uid(app, "admin@example.com"), prompt="admin boat")
    resp = client.get("/admin/tasks?format=csv")
    lines = resp.get_data(as_text=True).splitlines()
    assert resp.mimetype == "text/csv" and lines[0].startswith("video_id,owner,")
    assert "admin@example.com" in lines[1] and "admin boat" in lines[1]


def test_someone_elses_reference_image_is_never_reused(app, client, auth):
    pid = factories.provider(app)
    login(client, auth, "eve@example.com")
    theirs = _with_reference(app, uid(app, "eve@example.com"))
    auth.logout()
    login(client, auth)
    page = client.get(f"/tasks/new?from={theirs}").get_data(as_text=True)
    assert "reference_from" not in page and "a red square" not in page
    resp = client.post(
        "/tasks",
        data={"prompt": "mine", "model": f"{pid}:sora_video2", "reference_from": theirs},
    )
    assert resp.status_code == 303
    with app.app_context():
        from webapp.models import VideoTask

        mine = db.session.scalar(select(VideoTask).where(VideoTask.prompt == "mine"))
        assert mine.reference_image_key is None


def test_bulk_refuses_unknown_actions_and_empty_selections_plainly(app, client, auth):
    login(client, auth)
    vid = factories.task(app, uid(app))
    bad = client.post("/tasks/bulk", data={"action": "explode", "ids": [vid]})
    assert bad.status_code == 400 and "Traceback" not in bad.get_data(as_text=True)
    none = client.post("/tasks/bulk", data={"action": "zip", "ids": ["video_nope\x00", "x" * 5000]})
    assert none.status_code == 303
    assert "Select at least one task" in client.get("/tasks?view=grid").get_data(as_text=True)
    assert client.get(f"/tasks/{vid}").status_code == 200  # nothing was touched


def test_new_task_form_shows_every_error_in_one_round_and_keeps_the_rest(app, client, auth):
    pid = factories.provider(app)
    login(client, auth)
    resp = client.post(
        "/tasks",
        data={
            "prompt": "   ",
            "model": f"{pid}:sora_video2",
            "aspect_ratio": "9:16",
            "size": "1280x720",
            "seconds": "7",
            "hd": "true",
            "idempotency_key": "kept-key",
        },
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for name in ("prompt", "size", "seconds"):
        assert f'id="{name}-error"' in html, name
        assert f'aria-describedby="{name}-error"' in html, name
    assert 'value="kept-key"' in html  # a resubmit stays the same request
    assert re.search(r'<option selected value="9:16">|<option value="9:16" selected', html)
    assert re.search(r'name="hd"[^>]*checked|checked[^>]*name="hd"', html)


def test_api_still_answers_the_first_problems_code(app, client, auth):
    """The form gathers every error; the JSON API's stable code stays the first one's."""
    from .test_api import H, token_for

    factories.provider(app)
    token = token_for(app)
    resp = client.post(
        "/v1/videos", json={"prompt": "", "model": "sora_video2", "size": "99x99"}, headers=H(token)
    )
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "prompt_required"


def test_edit_provider_form_is_filled_from_the_stored_provider(app, client, auth):
    login(client, auth, "admin@example.com")
    pid = factories.provider(app)
    html = client.get(f"/admin/providers/{pid}").get_data(as_text=True)
    assert re.search(r'<option selected value="openai">|<option value="openai" selected', html)
    assert 'name="enabled"' in html and "checked" in html
    assert "sora_video2" in html  # the model map, as JSON


def test_new_task_form_survives_wrong_shapes_without_a_500(app, client, auth):
    pid = factories.provider(app)
    login(client, auth)
    shapes = [
        {"reference_image": "not a file", "prompt": "a boat", "model": f"{pid}:sora_video2"},
        {"prompt": ["one", "two"], "model": f"{pid}:sora_video2", "seconds": "eight"},
        {"prompt": "a boat\x00", "model": "9999:nope", "n": "\x00", "hd": "maybe"},
        {"prompt": "a boat", "model": ":", "reference_from": "video_" + "x" * 500},
        {"prompt": "a boat", "model": f"{pid}:sora_video2", "aspect_ratio": "<script>"},
    ]
    for data in shapes:
        resp = client.post("/tasks", data=data)
        assert resp.status_code in (303, 400, 422), (data, resp.status_code)
        if resp.status_code == 422:
            assert 'class="field-error"' in resp.get_data(as_text=True)


def test_provider_form_survives_wrong_shapes_without_a_500(app, client, auth):
    login(client, auth, "admin@example.com")
    shapes = [
        {"name": ["a", "b"], "kind": "openai", "extra_options": ["hd", "<b>x</b>"]},
        {"name": "x", "kind": "\x00", "model_map": "[1, 2]", "price_per_second": "abc"},
        {"name": "y", "kind": "openai", "model_map": '{"m": 5}', "enabled": "perhaps"},
        {"name": "z" * 500, "seconds_options": "1,,2,-3", "weight": "1e999", "max_rps": "nan"},
        {"name": "w", "price_per_second": "inf", "max_rps": "1e400", "priority": "1.5"},
    ]
    for data in shapes:
        resp = client.post("/admin/providers/new", data=data)
        assert resp.status_code == 422, (data, resp.status_code)
        assert 'class="field-error"' in resp.get_data(as_text=True)


def test_provider_numbers_must_be_finite_and_each_is_named(app, client, auth):
    login(client, auth, "admin@example.com")
    html = client.post(
        "/admin/providers/new",
        data={"name": "n", "price_per_second": "inf", "max_rps": "nan", "priority": "x"},
    ).get_data(as_text=True)
    for name in ("price_per_second", "max_rps", "priority"):
        assert f'id="{name}-error"' in html, name
