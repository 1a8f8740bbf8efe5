"""Submit exactly once, poll to the end, archive the result, never lose a task.

Every fault the simulator can inject is here, each proving that no task is lost
(it ends, or stays queued to retry) and none is duplicated (simulator counters).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import select, update

from webapp.domain import statuses as st
from webapp.domain.machine import Kind, Outcome
from webapp.extensions import db
from webapp.models import User, VideoTask
from webapp.models.base import utcnow
from webapp.services import leases, lifecycle, poller, tasks

from .lifecycle_support import create, events, finish, get, make_due, past_deadline, sweep, user


def created_for(sim, video_id) -> int:
    return sim.stats()["created_by_key"].get(video_id, 0)


def test_create_commits_then_submits_once(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    task = get(sim_app, vid)
    assert task.status == st.PROCESSING
    assert task.external_task_id and task.external_task_id != vid
    assert created_for(sim, vid) == 1
    assert task.lease_owner is None
    msgs = events(sim_app, vid)
    assert msgs[0].startswith("Task created") and "Accepted by the provider" in msgs[1]


def test_polls_to_completion_and_archives(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    task = finish(sim_app, sim, vid)
    assert task.status == st.COMPLETED and task.progress == 100
    assert set(task.archive) >= {"video", "thumbnail", "spritesheet"}
    assert task.cost is not None and float(task.cost) > 0
    assert created_for(sim, vid) == 1
    # The archive outlives the upstream: expire the upstream copy, content still plays.
    sim.expire(task.external_task_id)
    client = sim_app.test_client()
    client.post("/auth/login", data={"email": "ada@example.com", "password": "correct horse"})
    resp = client.get(f"/tasks/{vid}/content", headers={"Range": "bytes=0-99"})
    assert resp.status_code == 206 and len(resp.data) == 100
    assert resp.headers["Content-Type"].startswith("video/mp4")
    full = client.get(f"/tasks/{vid}/content")
    assert full.status_code == 200 and full.data[4:8] == b"ftyp"
    thumb = client.get(f"/tasks/{vid}/content?variant=thumbnail")
    assert thumb.status_code == 200 and thumb.data[:4] == b"RIFF"


def test_upstream_down_at_submit_stays_queued_then_submits(sim_app, sim):
    sim.add_faults([{"op": "create", "kind": "503", "count": 2}])
    uid = user(sim_app)
    vid = create(sim_app, uid)
    task = get(sim_app, vid)
    assert task.status == st.QUEUED and task.external_task_id is None
    assert task.error_message and task.next_poll_at > utcnow()
    sweep(sim_app)  # second 503
    assert get(sim_app, vid).status == st.QUEUED
    sweep(sim_app)  # accepted
    task = get(sim_app, vid)
    assert task.status == st.PROCESSING and task.attempts == 3
    assert created_for(sim, vid) == 1


def test_connection_refused_at_submit_is_retried(sim_app, sim, monkeypatch):
    uid = user(sim_app)
    with sim_app.app_context():
        from webapp.models import Provider

        for p in db.session.scalars(select(Provider)):
            p.base_url = "http://127.0.0.1:9"  # nothing listens there
        db.session.commit()
    vid = create(sim_app, uid)
    assert get(sim_app, vid).status == st.QUEUED
    with sim_app.app_context():
        from webapp.models import Provider

        for p in db.session.scalars(select(Provider)):
            p.base_url = sim.url
        db.session.commit()
    sweep(sim_app)
    assert get(sim_app, vid).status == st.PROCESSING
    assert created_for(sim, vid) == 1


def test_rate_limited_submit_obeys_retry_after(sim_app, sim):
    sim.add_faults([{"op": "create", "kind": "429", "count": 1, "retry_after": 40}])
    uid = user(sim_app)
    vid = create(sim_app, uid)
    task = get(sim_app, vid)
    assert task.status == st.QUEUED
    wait = (task.next_poll_at - utcnow()).total_seconds()
    assert 35 <= wait <= 41
    poller.run_once(sim_app)  # not due yet: nothing happens
    assert get(sim_app, vid).status == st.QUEUED and created_for(sim, vid) == 0
    sweep(sim_app)
    assert get(sim_app, vid).status == st.PROCESSING and created_for(sim, vid) == 1


def test_ambiguous_submit_is_reconciled_not_resent(sim_app, sim):
    sim.add_faults([{"op": "create", "kind": "drop_after_create", "count": 1}])
    uid = user(sim_app)
    vid = create(sim_app, uid, prompt="ambiguous lighthouse at dawn")
    task = get(sim_app, vid)
    assert task.status == st.QUEUED and task.error_code == "upstream_ambiguous"
    assert created_for(sim, vid) == 1
    sweep(sim_app)
    task = get(sim_app, vid)
    assert task.status == st.PROCESSING and task.external_task_id
    assert created_for(sim, vid) == 1  # found, not resent
    assert any("before the answer was lost" in m for m in events(sim_app, vid))
    assert finish(sim_app, sim, vid).status == st.COMPLETED
    assert created_for(sim, vid) == 1


def test_ambiguous_submit_never_adopts_another_users_job(sim_app, sim):
    """Bob's identical prompt is on the same upstream key; Ada's create was lost before
    the upstream made anything. Ada must not get Bob's video."""
    bob = user(sim_app, "bob@example.com")
    bob_vid = create(sim_app, bob, prompt="a red fox in snow")
    sim.add_faults([{"op": "create", "kind": "drop", "count": 1}])
    ada = user(sim_app)
    ada_vid = create(sim_app, ada, prompt="a red fox in snow")
    assert get(sim_app, ada_vid).error_code == "upstream_ambiguous"
    task = finish(sim_app, sim, ada_vid)
    assert task.status == st.FAILED and task.error_code == "submit_unconfirmed"
    assert task.external_task_id is None
    assert "not resent" in task.error_message
    assert sim.stats()["created_total"] == 1  # Bob's only; nothing resent for Ada
    assert finish(sim_app, sim, bob_vid).status == st.COMPLETED


def test_ambiguous_submit_with_two_matching_jobs_adopts_neither(sim_app, sim):
    """Two untracked upstream jobs match (someone else used the key too): guessing
    could hand Ada a stranger's video, so she gets a clear failure instead."""
    for _ in range(2):
        requests.post(
            f"{sim.url}/v1/videos",
            json={
                "prompt": "twin lighthouses",
                "model": "sora-2",
                "size": "1280x720",
                "seconds": "8",
            },
            headers={"Authorization": "Bearer sim-key"},
            timeout=5,
        ).raise_for_status()
    sim.add_faults([{"op": "create", "kind": "drop", "count": 1}])
    vid = create(sim_app, user(sim_app), prompt="twin lighthouses")
    task = finish(sim_app, sim, vid)
    assert task.status == st.FAILED and task.error_code == "submit_unconfirmed"
    assert "several" in task.error_message and task.external_task_id is None


def test_ambiguous_submit_ends_even_if_the_provider_cannot_list(sim_app, sim):
    sim.add_faults(
        [
            {"op": "create", "kind": "drop", "count": 1},
            {"op": "list", "kind": "503", "count": 1000},
        ]
    )
    vid = create(sim_app, user(sim_app), prompt="an unlisted comet")
    task = finish(sim_app, sim, vid)
    assert task.status == st.FAILED and task.error_code == "submit_unconfirmed"
    assert task.next_poll_at is None and sim.stats()["created_total"] == 0


def test_ambiguous_submit_past_the_deadline_fails(sim_app, sim):
    sim.add_faults([{"op": "create", "kind": "drop", "count": 1}])
    vid = create(sim_app, user(sim_app), prompt="a late comet")
    past_deadline(sim_app, vid)
    sweep(sim_app)
    task = get(sim_app, vid)
    assert task.status == st.FAILED and task.error_code == "submit_unconfirmed"


def test_status_faults_never_lose_the_task(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    for kind in ("500", "429", "malformed", "slow", "drop"):
        fault = {"op": "status", "kind": kind, "count": 1, "retry_after": 1, "delay": 3.0}
        sim.add_faults([fault])
        sweep(sim_app)
        task = get(sim_app, vid)
        assert task.status == st.PROCESSING, kind
        assert task.error_streak >= 1, kind
        assert task.lease_owner is None, kind
    assert finish(sim_app, sim, vid).status == st.COMPLETED
    assert created_for(sim, vid) == 1


def test_restart_mid_flight_resumes_from_database(sim_app, sim, make_app):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    assert get(sim_app, vid).status == st.PROCESSING
    # A brand-new app (a restarted process) with no memory of anything.
    fresh = make_app(UPSTREAM_READ_TIMEOUT=2.0)
    task = finish(fresh, sim, vid)
    assert task.status == st.COMPLETED and created_for(sim, vid) == 1


def test_expired_lease_is_taken_over(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    with sim_app.app_context():
        db.session.execute(
            update(VideoTask)
            .where(VideoTask.video_id == vid)
            .values(lease_owner="dead-worker", lease_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert finish(sim_app, sim, vid).status == st.COMPLETED


def test_held_lease_blocks_other_pollers(sim_app, sim):
    uid = user(sim_app)
    create(sim_app, uid)
    with sim_app.app_context():
        ids = leases.claim_due("worker-a", 10)
        assert len(ids) == 0  # not due yet
        make_due(sim_app)
        assert leases.claim_due("worker-a", 10) != []
        assert leases.claim_due("worker-b", 10) == []


def test_deadline_fails_with_timed_out(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid, prompt="[slow] a glacier melting")
    past_deadline(sim_app, vid)
    sweep(sim_app)
    task = get(sim_app, vid)
    assert task.status == st.FAILED and task.error_code == "timeout"
    assert "Timed out" in task.error_message


def test_submit_deadline_while_upstream_down(sim_app, sim):
    sim.add_faults([{"op": "create", "kind": "503", "count": 5}])
    uid = user(sim_app)
    vid = create(sim_app, uid)
    past_deadline(sim_app, vid)
    sweep(sim_app)
    task = get(sim_app, vid)
    assert task.status == st.FAILED and task.error_code == "submit_timeout"
    assert "Could not be submitted before the deadline" in task.error_message
    # past the deadline nothing is sent: no job is started (and billed) for nobody
    assert sim.stats()["created_total"] == 0
    assert sim.stats()["requests"].get("create", 0) == 1  # only the first, refused, try


def test_timed_out_job_is_stopped_upstream(sim_app, sim):
    vid = create(sim_app, user(sim_app), prompt="[slow] a very long glacier")
    ext = get(sim_app, vid).external_task_id
    past_deadline(sim_app, vid)
    task = finish(sim_app, sim, vid)
    assert task.status == st.FAILED and task.error_code == "timeout"
    assert task.external_task_id == ext and task.pending_action is None
    assert sim.stats()["requests"].get("delete", 0) == 1
    assert any("at the provider" in m for m in events(sim_app, vid))


def test_upstream_cancel_is_retried_until_it_gets_through(sim_app, sim):
    vid = create(sim_app, user(sim_app))
    sim.add_faults([{"op": "delete", "kind": "503", "count": 2}])
    with sim_app.app_context():
        tasks.cancel(db.session.get(User, get(sim_app, vid).user_id), vid)
    sweep(sim_app, rounds=2)
    assert get(sim_app, vid).pending_action == "cancel"  # not dropped after an error
    task = finish(sim_app, sim, vid)
    assert task.status == st.CANCELLED and task.pending_action is None
    assert sim.stats()["requests"]["delete"] == 3
    assert any("at the provider" in m for m in events(sim_app, vid))


def test_upstream_failure_is_summarised(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid, prompt="[fail] something not allowed")
    task = finish(sim_app, sim, vid)
    assert task.status == st.FAILED and task.error_message
    assert len(task.error_message) <= 500 and "{" not in task.error_message


def test_expiry_before_archive_is_said_plainly(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    sim.advance(10)  # completed upstream…
    sim.expire(get(sim_app, vid).external_task_id)  # …and gone before Reelay looked
    task = finish(sim_app, sim, vid)
    # Nothing playable was kept, so it is not "completed": it failed, and says why.
    assert task.status == st.FAILED and task.error_code == "content_expired"
    assert "expired before Reelay could archive it" in task.error_message
    client = sim_app.test_client()
    client.post("/auth/login", data={"email": "ada@example.com", "password": "correct horse"})
    page = client.get(f"/tasks/{vid}")
    assert b"expired before Reelay could archive it" in page.data
    assert client.get(f"/tasks/{vid}/content").status_code == 409


def test_cancel_beats_a_late_poll_and_tells_the_upstream(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    with sim_app.app_context():
        u = db.session.get(User, uid)
        # a poller has claimed the task and is talking to the upstream…
        make_due(sim_app)
        [lease] = leases.claim_due("slow-worker", 10)
        snap = lifecycle.load(lease)
        tasks.cancel(u, vid)
        with pytest.raises(tasks.TaskError):
            tasks.cancel(u, vid)
    task = get(sim_app, vid)
    assert task.status == st.CANCELLED and task.pending_action == "cancel"
    # …its late result cannot resurrect the task: it is decided again on the new facts
    with sim_app.app_context():
        then, _ = lifecycle.persist(lease, snap, Outcome(Kind.RUNNING, progress=50))
        assert then is not None  # go on and stop the job upstream
        assert get(sim_app, vid).status == st.CANCELLED
        lifecycle.run(lease)
    task = get(sim_app, vid)
    assert task.status == st.CANCELLED and task.pending_action is None
    assert sim.stats()["requests"].get("delete", 0) + sim.stats()["requests"].get("cancel", 0) >= 1


def test_remix_keeps_lineage_and_owner_only(sim_app, sim):
    uid = user(sim_app)
    other = user(sim_app, "bob@example.com")
    vid = create(sim_app, uid)
    finish(sim_app, sim, vid)
    with sim_app.app_context():
        ada = db.session.get(User, uid)
        bob = db.session.get(User, other)
        with pytest.raises(tasks.TaskError) as exc:
            tasks.remix(bob, vid, "steal it")
        assert exc.value.status == 404
        remix, created = tasks.remix(ada, vid, "the same boat, at night")
        assert created and remix.remix_of_id is not None
        assert remix.options["remix_from"] == vid and remix.options["type"] == "remix"
        rid = remix.video_id
    task = finish(sim_app, sim, rid)
    assert task.status == st.COMPLETED
    assert sim.stats()["requests"].get("remix", 0) == 1


def test_remix_requires_completed(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    with sim_app.app_context():
        with pytest.raises(tasks.TaskError) as exc:
            tasks.remix(db.session.get(User, uid), vid, "too early")
        assert exc.value.code == "not_completed"


def test_idempotency_key_returns_first_task(sim_app, sim):
    uid = user(sim_app)
    with sim_app.app_context():
        u = db.session.get(User, uid)
        req = tasks.NewTask(prompt="same twice", model="sora_video2", idempotency_key="k-1")
        first, c1 = tasks.create(u, req)
        second, c2 = tasks.create(u, req)
        assert c1 and not c2 and first.video_id == second.video_id
        with pytest.raises(tasks.IdempotencyConflict):
            tasks.create(
                u, tasks.NewTask(prompt="different", model="sora_video2", idempotency_key="k-1")
            )
        assert db.session.query(VideoTask).count() == 1
    assert sim.stats()["created_total"] == 1


def test_invalid_input_writes_nothing(sim_app, sim):
    uid = user(sim_app)
    with sim_app.app_context():
        u = db.session.get(User, uid)
        bad = [
            tasks.NewTask(prompt="", model="sora_video2"),
            tasks.NewTask(prompt="x", model="no-such-model"),
            tasks.NewTask(prompt="x", model="sora_video2", seconds=7),
            tasks.NewTask(prompt="x", model="sora_video2", size="999x999"),
            tasks.NewTask(prompt="x", model="sora_video2", image=b"not an image"),
            tasks.NewTask(prompt="x", model="sora_video2", aspect_ratio="4:3"),
        ]
        for req in bad:
            with pytest.raises(Exception) as exc:
                tasks.create(u, req)
            assert getattr(exc.value, "errors", None), req
        assert db.session.query(VideoTask).count() == 0
    assert sim.stats()["created_total"] == 0


def test_register_external_is_tracked_to_the_end(sim_app, sim):
    import requests

    resp = requests.post(
        f"{sim.url}/v1/videos",
        json={"prompt": "made elsewhere", "model": "sora-2", "seconds": "4"},
        headers={"Authorization": "Bearer sim-key"},
        timeout=5,
    )
    ext = resp.json()["id"]
    uid = user(sim_app)
    with sim_app.app_context():
        from webapp.models import Provider

        pid = db.session.scalar(select(Provider.id).where(Provider.kind == "openai"))
        task = tasks.register_external(db.session.get(User, uid), ext, pid, "sora_video2")
        vid = task.video_id
        with pytest.raises(tasks.TaskError):
            tasks.register_external(db.session.get(User, uid), ext, pid, "sora_video2")
    assert finish(sim_app, sim, vid).status == st.COMPLETED


def test_refresh_rechecks_and_rearchives(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    finish(sim_app, sim, vid)
    with sim_app.app_context():
        u = db.session.get(User, uid)
        task = tasks.refresh_now(u, vid)
        assert task.status == st.COMPLETED and tasks.refreshed_at(task)
        assert task.pending_action is None


def test_gemini_image_is_stored_as_image(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid, prompt="a red fox, watercolour", model="gemini-2.5-flash-imagen")
    task = finish(sim_app, sim, vid)
    assert task.media_type == st.IMAGE and task.status == st.COMPLETED
    assert "image" in task.archive
    assert vid.startswith("image_")  # an image is not called a video, in its id either


def test_veo_through_gemini_adapter(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid, prompt="waves on basalt", model="veo-3.1")
    task = finish(sim_app, sim, vid)
    assert task.status == st.COMPLETED and "video" in task.archive


def test_remix_of_a_video_the_provider_forgot_says_so_plainly(sim_app, sim):
    uid = user(sim_app)
    vid = create(sim_app, uid)
    done = finish(sim_app, sim, vid)
    # The provider forgets the job (deleted on its side).
    r = requests.delete(
        f"{sim.url}/v1/videos/{done.external_task_id}", headers={"Authorization": "Bearer sim-key"}
    )
    assert r.status_code == 200
    with sim_app.app_context():
        remix, _ = tasks.remix(db.session.get(User, uid), vid, "at night")
        rid = remix.video_id
    task = finish(sim_app, sim, rid)
    assert task.status == st.FAILED and task.error_code == "remix_source_forgotten"
    assert task.error_message.startswith("The provider no longer has the original video")
