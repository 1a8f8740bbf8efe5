"""Budgets and quotas: the caps, their enforcement at create (never overshot, also by
concurrent creates on PostgreSQL), reservation and settlement, and where users and
admins see them."""

from __future__ import annotations

import threading
from datetime import timedelta

import openai
import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_token_from
from webapp.domain import budgets as b
from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import ApiToken, DeletedTask, Provider, User, VideoTask
from webapp.services import accounts, budgets, stats, tasks

PRICE = 0.1  # factories.provider: $0.10/s, sora_video2 8 s -> $0.80 a task


# ---- the pure decision ----------------------------------------------------------------


def test_effective_caps_default_override_and_unlimited():
    caps = b.effective({"monthly_spend": 10, "daily_tasks": 5}, {"daily_tasks": None})
    assert caps.monthly_spend == 10 and caps.daily_tasks is None and caps.concurrent is None


def test_check_names_the_cap_and_what_is_left():
    over = b.check(b.Caps(monthly_spend=1.0), b.Usage(spend=0.5), 0.8, 8, "USD")
    assert (
        over.cap == b.SPEND
        and "$0.50 of $1.00 used" in over.message
        and "$0.50 left" in over.message
    )
    assert b.check(b.Caps(monthly_spend=1.0), b.Usage(spend=0.2), 0.8, 8, "USD") is None
    assert b.check(b.Caps(monthly_seconds=10), b.Usage(seconds=4), 0, 8, "USD").cap == b.SECONDS
    assert b.check(b.Caps(concurrent=2), b.Usage(running=2), 0, 8, "USD").cap == b.CONCURRENT
    assert b.check(b.Caps(daily_tasks=3), b.Usage(today=3), 0, 8, "USD").cap == b.DAILY
    assert "€" in b.check(b.Caps(monthly_spend=0), b.Usage(), 1, 1, "EUR").message


@pytest.mark.parametrize(
    ("text", "value"),
    [("", ...), ("unlimited", None), ("12.5", 12.5), ("$3", 3.0), ("1,000", 1000.0)],
)
def test_parse_cap(text, value):
    assert b.parse_cap(b.SPEND, text) == value


@pytest.mark.parametrize("text", ["abc", "-1", "1e99", "nan"])
def test_parse_cap_refuses(text):
    with pytest.raises(b.CapError):
        b.parse_cap(b.SPEND, text)
    with pytest.raises(b.CapError):
        b.parse_cap(b.DAILY, "2.5")


# ---- enforcement ------------------------------------------------------------------------


def setup(app, caps=None, defaults=None):
    pid = factories.provider(app, base_url="http://127.0.0.1:9")
    with app.app_context():
        u = accounts.register("ada@example.com", "correct horse")
        if defaults:
            budgets.set_defaults(defaults)
        if caps:
            budgets.set_user_caps(u, caps)
        return u.id, pid


def create(app, uid, **kw):
    with app.app_context():
        u = db.session.get(User, uid)
        return tasks.create(
            u, tasks.NewTask(prompt="a boat", model="sora_video2", **kw), submit=False
        )[0].video_id


def test_spend_cap_refuses_the_task_that_would_go_over(app):
    uid, _ = setup(app, caps={"monthly_spend": 2.0})
    create(app, uid)
    create(app, uid)  # $1.60 reserved
    with pytest.raises(tasks.BudgetExceeded) as err:
        create(app, uid)
    assert err.value.code == "budget_exceeded" and err.value.cap == b.SPEND
    assert "$1.60 of $2.00 used" in err.value.message and "$0.40 left" in err.value.message
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(VideoTask)) == 2


def test_defaults_apply_and_a_user_override_replaces_them(app):
    uid, _ = setup(app, defaults={"daily_tasks": 1})
    create(app, uid)
    with pytest.raises(tasks.BudgetExceeded):
        create(app, uid)
    with app.app_context():
        budgets.set_user_caps(db.session.get(User, uid), {"daily_tasks": None})  # unlimited
    create(app, uid)


def test_concurrent_and_seconds_caps(app):
    uid, _ = setup(app, caps={"concurrent": 1})
    create(app, uid)
    with pytest.raises(tasks.BudgetExceeded) as err:
        create(app, uid)
    assert err.value.cap == b.CONCURRENT
    with app.app_context():
        budgets.set_user_caps(db.session.get(User, uid), {"concurrent": ..., "monthly_seconds": 12})
    with pytest.raises(tasks.BudgetExceeded) as err:
        create(app, uid)  # 8 s running + 8 s > 12 s
    assert err.value.cap == b.SECONDS


def test_settled_to_actual_cost_and_released_on_failure(app):
    uid, _ = setup(app, caps={"monthly_spend": 1.0})
    vid = create(app, uid)
    with app.app_context():
        assert budgets.usage_of(uid).spend == pytest.approx(0.8)  # reserved while it runs
        t = db.session.scalar(select(VideoTask).where(VideoTask.video_id == vid))
        t.status, t.cost = st.FAILED, None  # failed before the provider charged
        db.session.commit()
        assert budgets.usage_of(uid).spend == 0.0
    vid = create(app, uid)
    with app.app_context():
        t = db.session.scalar(select(VideoTask).where(VideoTask.video_id == vid))
        t.status, t.cost = st.COMPLETED, 0.35  # what the provider said it cost
        db.session.commit()
        assert budgets.usage_of(uid).spend == pytest.approx(0.35)
    with pytest.raises(tasks.BudgetExceeded):
        create(app, uid)  # 0.35 spent + 0.80 more > 1.00


def test_token_caps_apply_on_top_of_the_owner(app, client):
    uid, _ = setup(app)
    with app.app_context():
        u = db.session.get(User, uid)
        _, limited = accounts.create_token(u, "script", caps={"daily_tasks": 1})
        _, free = accounts.create_token(u, "laptop")
    body = {"prompt": "a boat", "model": "sora_video2"}
    first = client.post(
        "/api/video/tasks", json=body, headers={"Authorization": f"Bearer {limited}"}
    )
    assert first.status_code == 201, first.get_json()
    second = client.post(
        "/api/video/tasks", json=body, headers={"Authorization": f"Bearer {limited}"}
    )
    assert second.status_code == 429
    assert second.get_json()["code"] == "budget_exceeded"
    assert "this token's limit is 1 task per day" in second.get_json()["message"].lower()
    other = client.post("/api/video/tasks", json=body, headers={"Authorization": f"Bearer {free}"})
    assert other.status_code == 201
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.name == "script"))
        assert budgets.usage_of(token_id=token.id).today == 1


def test_openai_sdk_gets_insufficient_quota_without_retrying(app, live_server_url):
    uid, _ = setup(app, caps={"monthly_spend": 0.5})
    with app.app_context():
        _, clear = accounts.create_token(db.session.get(User, uid), "sdk")
    client = openai.OpenAI(api_key=clear, base_url=live_server_url + "/v1", max_retries=3)
    with pytest.raises(openai.RateLimitError) as err:
        client.videos.create(prompt="a boat", model="sora_video2", seconds="8")
    assert err.value.code == "insufficient_quota"
    assert err.value.body["type"] == "insufficient_quota"
    assert err.value.response.headers["x-should-retry"] == "false"


@pytest.fixture
def live_server_url(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_form_shows_the_budget_error_next_to_the_button_and_keeps_the_form(app, client, auth):
    pid = factories.provider(app)
    auth.register()
    with app.app_context():
        u = db.session.scalar(select(User))
        budgets.set_user_caps(u, {"monthly_spend": 0.5})
    page = client.get("/tasks/new").get_data(as_text=True)
    assert "$0.50 of $0.50 left this month" in page
    resp = client.post(
        "/tasks",
        data={"prompt": "a lighthouse at dawn", "model": f"{pid}:sora_video2", "csrf_token": "x"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 429
    assert 'id="budget-error"' in html and "monthly budget" in html
    assert html.index('id="budget-error"') < html.index('id="submit-task"')
    assert "a lighthouse at dawn" in html


def test_settings_shows_usage_against_each_cap(app, client, auth):
    factories.provider(app)
    auth.register()
    with app.app_context():
        u = db.session.scalar(select(User))
        budgets.set_user_caps(u, {"monthly_spend": 5, "daily_tasks": 10})
        tasks.create(u, tasks.NewTask(prompt="p", model="sora_video2"), submit=False)
    html = client.get("/settings/").get_data(as_text=True)
    assert "Usage this month" in html
    assert "$0.80" in html and "$5.00" in html and "$4.20" in html
    assert ">9<" in html  # tasks left today


# ---- admin --------------------------------------------------------------------------------


def admin_page(client, auth):
    auth.register("admin@example.com")
    html = client.get("/admin/users").get_data(as_text=True)
    return html, csrf_token_from(html)


def test_admin_sets_defaults_and_a_users_caps(app, client, auth):
    html, token = admin_page(client, auth)
    resp = client.post(
        "/admin/users/caps",
        data={"csrf_token": token, "defaults-monthly_spend": "20", "defaults-daily_tasks": "5"},
    )
    assert resp.status_code == 302
    with app.app_context():
        assert budgets.defaults() == {"monthly_spend": 20.0, "daily_tasks": 5}
        uid = db.session.scalar(select(User.id))
    resp = client.post(
        f"/admin/users/{uid}/caps",
        data={"csrf_token": token, f"u{uid}-daily_tasks": "unlimited", f"u{uid}-concurrent": "2"},
    )
    assert resp.status_code == 302
    with app.app_context():
        caps = budgets.caps_for(db.session.get(User, uid))
    assert caps == b.Caps(monthly_spend=20.0, daily_tasks=None, concurrent=2)
    html = client.get("/admin/users").get_data(as_text=True)
    assert "$0.00 of $20.00" in html and "(max 2)" in html


def test_admin_caps_error_shows_next_to_the_field(app, client, auth):
    html, token = admin_page(client, auth)
    resp = client.post(
        "/admin/users/caps", data={"csrf_token": token, "defaults-concurrent": "two"}
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="defaults-concurrent-error"' in html and "Enter a number" in html
    with app.app_context():
        assert budgets.defaults() == {}


def test_admin_stats_spend_per_user_and_token_with_csv(app, client, auth):
    factories.provider(app)
    auth.register("admin@example.com")
    with app.app_context():
        u = db.session.scalar(select(User))
        tok, clear = accounts.create_token(u, "=cmd|' /C calc'!A0")
    resp = client.post(
        "/api/video/tasks",
        json={"prompt": "a boat", "model": "sora_video2"},
        headers={"Authorization": f"Bearer {clear}"},
    )
    assert resp.status_code == 201
    with app.app_context():
        t = db.session.scalar(select(VideoTask))
        t.status, t.cost = st.COMPLETED, 0.8
        db.session.commit()
    html = client.get("/admin/stats").get_data(as_text=True)
    assert "Per API token" in html and "admin@example.com" in html and "$0.80" in html
    csv = client.get("/admin/stats?format=spend-csv")
    assert csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert "user,admin@example.com,admin@example.com,1,8,0.8000" in text
    assert "token,'=cmd" in text  # never a formula in a spreadsheet


# ---- concurrency: never overshot -----------------------------------------------------------


@pytest.mark.postgres
def test_concurrent_creates_cannot_overshoot_on_postgresql(app, backend):
    if backend != "postgresql":
        pytest.skip("row locks are proven on PostgreSQL")
    uid, _ = setup(app, caps={"monthly_spend": 3.0, "concurrent": 10})  # room for 3 tasks
    outcomes = []
    barrier = threading.Barrier(16)

    def one(i):
        with app.app_context():
            u = db.session.get(User, uid)
            db.session.commit()  # give the connection back: the pool holds 15
            barrier.wait(timeout=30)
            try:
                tasks.create(
                    u, tasks.NewTask(prompt=f"boat {i}", model="sora_video2"), submit=False
                )
                outcomes.append("made")
            except tasks.BudgetExceeded:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["made"] * 3 + ["refused"] * 13
    with app.app_context():
        assert budgets.usage_of(uid).spend == pytest.approx(2.4)


def test_deleting_a_finished_task_gives_back_none_of_what_it_spent(app, client, auth):
    """The money is spent upstream whatever happens to the file: after a delete the
    budgets, the day's count, the user's stats and the admin's spend per user still
    count the task (and a stats rebuild agrees); only its content is gone."""
    factories.provider(app)
    auth.register("admin@example.com")
    with app.app_context():
        u = db.session.scalar(select(User))
        budgets.set_user_caps(u, {"monthly_spend": 1.0, "daily_tasks": 2})
        vid = tasks.create(
            u, tasks.NewTask(prompt="a glass boat", model="sora_video2"), submit=False
        )[0].video_id
        t = db.session.scalar(select(VideoTask).where(VideoTask.video_id == vid))
        t.status, t.cost, t.completed_at = st.COMPLETED, 0.4, t.created_at + timedelta(seconds=30)
        db.session.commit()
        before = budgets.usage_of(u.id)
    assert (before.spend, before.seconds, before.today) == (pytest.approx(0.4), 8, 1)
    stats_before = client.get("/stats").get_data(as_text=True)
    admin_before = client.get("/admin/stats").get_data(as_text=True)

    page = client.get(f"/tasks/{vid}").get_data(as_text=True)
    resp = client.post(f"/tasks/{vid}/delete", data={"csrf_token": csrf_token_from(page)})
    assert resp.status_code == 303
    assert client.get(f"/tasks/{vid}").status_code == 404
    assert "a glass boat" not in client.get("/tasks").get_data(as_text=True)

    with app.app_context():
        u = db.session.scalar(select(User))
        after = budgets.usage_of(u.id)
        assert (after.spend, after.seconds, after.today) == (pytest.approx(0.4), 8, 1)
        assert budgets.usage_by_user([u.id])[u.id] == after
        gone = db.session.scalar(select(DeletedTask))
        assert (gone.video_id, gone.status, float(gone.cost)) == (vid, st.COMPLETED, 0.4)
        assert not hasattr(gone, "prompt")  # nothing of its content is kept
    for path, before_html in (("/stats", stats_before), ("/admin/stats", admin_before)):
        html = client.get(path).get_data(as_text=True)
        assert "$0.40" in html and html.count("$0.40") == before_html.count("$0.40"), path
    with app.app_context():
        stats.rebuild()
    assert client.get("/admin/stats").get_data(as_text=True).count("$0.40") == admin_before.count(
        "$0.40"
    )

    # The cap still sees the spend: $0.40 + $0.80 would pass $1.00.
    with app.app_context(), pytest.raises(tasks.BudgetExceeded) as err:
        tasks.create(
            db.session.scalar(select(User)),
            tasks.NewTask(prompt="again", model="sora_video2"),
            submit=False,
        )
    assert err.value.cap == b.SPEND


def test_a_task_deleted_while_running_counts_as_cancelled(app):
    """Stopped at its provider: nothing spent, and it no longer runs. Sent to a provider
    that can neither stop nor delete jobs (new-api): it will be billed there, so its
    reservation stays spent."""
    uid, pid = setup(app, caps={"concurrent": 1, "monthly_spend": 1.0})
    vid = create(app, uid)
    with app.app_context():
        u = db.session.get(User, uid)
        t = db.session.scalar(select(VideoTask).where(VideoTask.video_id == vid))
        t.status, t.external_task_id = st.PROCESSING, "video_upstream_1"
        db.session.commit()
        tasks.delete(u, vid)
        gone = db.session.scalar(select(DeletedTask))
        assert gone.status == st.CANCELLED and gone.completed_at is not None
        usage = budgets.usage_of(uid)
        assert (usage.running, usage.today, usage.spend) == (0, 1, 0.0)
    vid = create(app, uid)  # nothing runs any more, nothing was spent
    with app.app_context():
        p = db.session.get(Provider, pid)
        p.settings = {"profile": "newapi"}
        t = db.session.scalar(select(VideoTask).where(VideoTask.video_id == vid))
        t.status, t.external_task_id = st.PROCESSING, "video_upstream_2"
        db.session.commit()
        assert tasks.delete(db.session.get(User, uid), vid) is True  # its copy stays there
        assert budgets.usage_of(uid).spend == pytest.approx(0.8)
    with pytest.raises(tasks.BudgetExceeded):
        create(app, uid)  # $0.80 spent + $0.80 > $1.00


def test_a_delete_racing_a_finish_counts_what_the_finish_wrote_on_postgresql(app, backend):
    """A poller finishing the task (with its cost) while its owner deletes it: the delete
    waits for the row and counts the finished task, not the running one it first read;
    a second delete of the same task meanwhile is told it is gone."""
    if backend != "postgresql":
        pytest.skip("row locks are proven on PostgreSQL")
    import time

    from sqlalchemy import update

    uid, _ = setup(app)
    vid = create(app, uid)
    outcomes = []
    finishing = threading.Event()

    def owner_deletes():
        with app.app_context():
            finishing.wait(10)
            try:
                tasks.delete(db.session.get(User, uid), vid)
                outcomes.append("deleted")
            except tasks.TaskError as exc:
                outcomes.append(exc.code)
            finally:
                db.session.remove()

    with app.app_context():
        engine = db.engine
    with engine.connect() as poller:  # holds the row until it commits
        poller.execute(
            update(VideoTask)
            .where(VideoTask.video_id == vid)
            .values(status=st.COMPLETED, cost=0.35, version=VideoTask.version + 1)
        )
        threads = [threading.Thread(target=owner_deletes) for _ in range(2)]
        for t in threads:
            t.start()
        finishing.set()
        time.sleep(1.0)  # both deletes have read the running task and wait on the row
        poller.commit()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["deleted", "not_found"]
    with app.app_context():
        gone = db.session.scalar(select(DeletedTask))
        assert (gone.status, float(gone.cost)) == (st.COMPLETED, 0.35)
        assert budgets.usage_of(uid).spend == pytest.approx(0.35)
