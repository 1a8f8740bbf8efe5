"""The submit protocol, case by case: each scenario an outside check found, proven
against the simulator's ledger (every upstream job with the create that made it)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select, update

from webapp.domain import machine as m
from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import SubmitAttempt, User, VideoTask
from webapp.models.base import utcnow
from webapp.services import accounts, archive, attempts, leases, tasks

from .browser_support import LiveServer
from .lifecycle_support import create, events, finish, get, make_due, sweep, unsent, user


def jobs_for(sim, video_id) -> list[dict]:
    return [j for j in sim.ledger() if j["client_ref"] == video_id]


def expire_leases(app):
    with app.app_context():
        db.session.execute(update(VideoTask).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def in_thread(app, fn, *args):
    """Run ``fn`` in an app context on another thread (an in-flight request)."""
    box = {}

    def target():
        with app.app_context():
            try:
                box["value"] = fn(*args)
            except Exception as exc:  # noqa: BLE001 - handed back to the test
                box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def wait_for_attempt(app, video_id, state=m.SENDING, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            task = db.session.scalar(select(VideoTask).where(VideoTask.video_id == video_id))
            row = task and db.session.scalar(
                select(SubmitAttempt).where(SubmitAttempt.task_id == task.id)
            )
            db.session.commit()
            if row is not None and row.state == state:
                return row
        time.sleep(0.05)
    raise AssertionError(f"no {state} attempt for {video_id}")


new_task = unsent


def submit_now(task_id):
    lease = leases.claim(task_id, "test-holder")
    from webapp.services import lifecycle

    lifecycle.run(lease)


# ---- the attempt is recorded before the create goes out -------------------------------


def test_the_attempt_is_committed_before_the_create_is_sent(sim_app, sim):
    sim.add_faults([{"op": "create", "kind": "slow", "delay": 1.0}])
    uid = user(sim_app)
    task_id, vid = new_task(sim_app, uid)
    thread, _ = in_thread(sim_app, submit_now, task_id)
    row = wait_for_attempt(sim_app, vid)  # visible while the create is on the wire
    assert row.fence >= 1 and len(row.fingerprint) == 64 and row.number == 1
    assert jobs_for(sim, vid) == []
    thread.join(10)
    with sim_app.app_context():
        row = db.session.scalar(select(SubmitAttempt).where(SubmitAttempt.task_id == task_id))
        assert row.state == m.ACCEPTED and row.external_id == get(sim_app, vid).external_task_id


def test_a_holder_that_died_mid_create_is_reconciled_never_resent(sim_app, sim):
    """What kill -9 during a create leaves behind: a 'sending' attempt, a stale lease,
    and (here) a job the upstream did make. The next claim finds it; nothing is resent."""
    uid = user(sim_app)
    task_id, vid = new_task(sim_app, uid)
    with sim_app.app_context():
        lease = leases.claim(task_id, "doomed")
        version = db.session.get(VideoTask, task_id).version
        from webapp.services import lifecycle

        snap = lifecycle.load(lease)
        job = snap.provider.adapter()
        from webapp.services.steps import _job

        attempts.begin(lease, version, 1, snap.provider.id, _job(snap), None, 30)
        job.submit(_job(snap))  # reached the upstream; the answer died with the process
    expire_leases(sim_app)
    make_due(sim_app)
    sweep(sim_app)
    task = get(sim_app, vid)
    assert task.status == st.PROCESSING and len(jobs_for(sim, vid)) == 1
    assert task.external_task_id == jobs_for(sim, vid)[0]["id"]
    assert finish(sim_app, sim, vid).status == st.COMPLETED
    assert len(jobs_for(sim, vid)) == 1


def test_a_late_answer_recorded_after_the_takeover_is_tracked_never_resent(sim_app, sim):
    """The race torture found (seeds 146789, 146793): the holder's create is answered
    just as its lease runs out; it records the job on the attempt (accepted) but can no
    longer write the task. The next holder must track that job, not submit again."""
    uid = user(sim_app)
    task_id, vid = new_task(sim_app, uid)
    with sim_app.app_context():
        from webapp.services import lifecycle
        from webapp.services.steps import _job

        lease = leases.claim(task_id, "slow-holder")
        snap = lifecycle.load(lease)
        attempt_id, _ = attempts.begin(
            lease, snap.version, 1, snap.provider.id, _job(snap), None, 30
        )
        submitted = snap.provider.adapter().submit(_job(snap))
        assert attempts.answered(attempt_id, submitted.external_id, submitted.handles)
    assert get(sim_app, vid).external_task_id is None  # the task never heard of it
    expire_leases(sim_app)
    make_due(sim_app)
    sweep(sim_app)
    task = get(sim_app, vid)
    assert task.external_task_id == submitted.external_id
    assert len(jobs_for(sim, vid)) == 1
    assert finish(sim_app, sim, vid).status == st.COMPLETED
    assert len(jobs_for(sim, vid)) == 1


def test_a_holder_that_died_before_the_upstream_saw_it_fails_clearly(sim_app, sim):
    uid = user(sim_app)
    task_id, vid = new_task(sim_app, uid)
    with sim_app.app_context():
        lease = leases.claim(task_id, "doomed")
        from webapp.services import lifecycle
        from webapp.services.steps import _job

        snap = lifecycle.load(lease)
        attempts.begin(lease, snap.version, 1, snap.provider.id, _job(snap), None, 30)
    expire_leases(sim_app)
    task = finish(sim_app, sim, vid)
    assert task.status == st.FAILED and task.error_code == "submit_unconfirmed"
    assert "not resent" in task.error_message
    assert jobs_for(sim, vid) == []
    with sim_app.app_context():
        row = db.session.scalar(select(SubmitAttempt).where(SubmitAttempt.task_id == task_id))
        assert row.state == m.LOST  # the record stays


def test_a_create_slower_than_the_lease_is_cut_short_and_reconciled(make_app, sim, monkeypatch):
    """The call's timeout ends before the lease does, so a slow create can never be
    answered to a holder that lost the task; the job it made is found, not remade."""
    sim.reset()
    monkeypatch.setenv("REELAY_SIM_KEY", "sim-key")
    app = make_app(LEASE_SECONDS=5, UPSTREAM_READ_TIMEOUT=30.0, UPSTREAM_CONNECT_TIMEOUT=1.0)
    from webapp.services import sim_seed

    with app.app_context():
        sim_seed.seed(sim.url)
    sim.add_faults([{"op": "create", "kind": "slow", "delay": 5.0}])
    uid = user(app)
    started = time.monotonic()
    vid = create(app, uid)
    assert time.monotonic() - started < 5.0  # cut at the lease, not the 30 s read timeout
    assert get(app, vid).error_code == "upstream_ambiguous"
    time.sleep(1.5)  # the slow create lands upstream
    task = finish(app, sim, vid)
    assert task.status == st.COMPLETED and len(jobs_for(sim, vid)) == 1


def test_a_taken_over_lease_cannot_write(sim_app, sim):
    uid = user(sim_app)
    task_id, vid = new_task(sim_app, uid)
    with sim_app.app_context():
        from webapp.services import lifecycle

        old = leases.claim(task_id, "old-holder")
        snap = lifecycle.load(old)
    expire_leases(sim_app)
    with sim_app.app_context():
        new = leases.claim(task_id, "new-holder")
        assert new.token == old.token + 1
        assert not leases.write(old, snap.version, {"progress": 77})
        assert not leases.renew(old)
        assert attempts.begin(old, snap.version, 1, snap.provider.id, _dummy_job(), None, 5) is None
        db.session.commit()
    assert get(sim_app, vid).progress == 0 and jobs_for(sim, vid) == []


def _dummy_job():
    from webapp.providers.base import Job

    return Job(model="sora-2", prompt="p", client_ref="x")


# ---- cancel and delete while the create is in flight -----------------------------------


@pytest.mark.parametrize("answer", ["normal", "dropped"])
def test_cancel_during_an_in_flight_create_stops_the_job_when_it_answers(sim_app, sim, answer):
    kind = "slow" if answer == "normal" else "drop_after_create"
    faults = [{"op": "create", "kind": "slow", "delay": 1.0}]
    if answer == "dropped":
        faults = [{"op": "create", "kind": kind}]
    sim.add_faults(faults)
    uid = user(sim_app)
    task_id, vid = new_task(sim_app, uid)
    thread, _ = in_thread(sim_app, submit_now, task_id)
    if answer == "normal":
        wait_for_attempt(sim_app, vid)
    else:
        thread.join(10)
    with sim_app.app_context():
        tasks.cancel(db.session.get(User, uid), vid)
    assert get(sim_app, vid).status == st.CANCELLED  # the user sees it at once
    thread.join(10)
    if answer == "dropped":
        expire_leases(sim_app)
        finish(sim_app, sim, vid)
    task = get(sim_app, vid)
    [job] = jobs_for(sim, vid)
    assert task.status == st.CANCELLED and task.external_task_id == job["id"]
    assert job["stop_requested"] and task.pending_action is None
    assert any("asking it to stop" in e or "Found the job" in e for e in events(sim_app, vid))


def test_delete_during_an_in_flight_create_deletes_the_job_when_it_answers(sim_app, sim):
    sim.add_faults([{"op": "create", "kind": "slow", "delay": 1.0}])
    uid = user(sim_app)
    task_id, vid = new_task(sim_app, uid)
    thread, _ = in_thread(sim_app, submit_now, task_id)
    wait_for_attempt(sim_app, vid)
    with sim_app.app_context():
        tasks.delete(db.session.get(User, uid), vid)
        assert db.session.get(VideoTask, task_id) is None
    thread.join(10)
    [job] = jobs_for(sim, vid)
    assert job["deleted"] and job["stop_requested"]
    with sim_app.app_context():
        row = db.session.scalar(select(SubmitAttempt).where(SubmitAttempt.external_id == job["id"]))
        assert row.task_id is None and row.cleanup == "deleted"


# ---- reconciliation never crosses tasks or users -------------------------------------


def test_another_users_abandoned_job_is_never_adopted(sim_app, sim):
    """A creates P slowly and cancels; B creates P and B's answer is dropped. B must end
    with B's own job (or none), never A's."""
    ada, bob = user(sim_app), user(sim_app, "bob@example.com")
    sim.add_faults([{"op": "create", "kind": "slow", "delay": 1.0}])
    a_id, a_vid = new_task(sim_app, ada, prompt="the same prompt")
    thread, _ = in_thread(sim_app, submit_now, a_id)
    wait_for_attempt(sim_app, a_vid)
    with sim_app.app_context():
        tasks.cancel(db.session.get(User, ada), a_vid)
    sim.add_faults([{"op": "create", "kind": "drop_after_create"}])
    b_vid = create(sim_app, bob, prompt="the same prompt")
    thread.join(10)
    b = finish(sim_app, sim, b_vid)
    [a_job] = jobs_for(sim, a_vid)
    [b_job] = jobs_for(sim, b_vid)
    assert b.status == st.COMPLETED and b.external_task_id == b_job["id"] != a_job["id"]
    assert get(sim_app, a_vid).external_task_id == a_job["id"] and a_job["stop_requested"]


def test_two_unconfirmed_creates_of_one_prompt_adopt_neither_and_stop_both(sim_app, sim):
    ada, bob = user(sim_app), user(sim_app, "bob@example.com")
    sim.add_faults([{"op": "create", "kind": "drop_after_create", "count": 2}])
    a_vid = create(sim_app, ada, prompt="twins")
    b_vid = create(sim_app, bob, prompt="twins")
    a, b = finish(sim_app, sim, a_vid), finish(sim_app, sim, b_vid)
    assert (a.status, b.status) == (st.FAILED, st.FAILED)
    assert a.external_task_id is None and b.external_task_id is None
    assert "several" in a.error_message or "several" in b.error_message
    # the two jobs nobody can own are stopped upstream by the next orphan sweep, without
    # waiting for the creates' timeout (no answer can come for a request that is over)
    with sim_app.app_context():
        assert all(a.answer_by > utcnow() for a in db.session.scalars(select(SubmitAttempt)))
    sweep(sim_app)
    assert all(j["stop_requested"] for j in jobs_for(sim, a_vid) + jobs_for(sim, b_vid))
    assert len(jobs_for(sim, a_vid)) == len(jobs_for(sim, b_vid)) == 1


def test_a_stray_jobs_stop_is_retried_through_a_failing_spell_until_it_lands(sim_app, sim):
    """Nine failed stops in a row (torture seed 210022: a stray's stop backed off to 16 s
    apart, past the checker's window, and would have been given up after eight): the
    sweep keeps trying, never more than four retry steps apart, and stops the job once
    the provider answers. A stray whose create is older than STOP_FOR is let go."""
    from webapp.services import orphans

    base = sim_app.config["RETRY_BASE_SECONDS"]
    ada = user(sim_app)
    vid = create(sim_app, ada, prompt="a stray in a failing spell")
    sim.add_faults([{"op": "delete", "kind": "drop", "count": 9}])
    with sim_app.app_context():
        tasks.delete(db.session.get(User, ada), vid)  # its job goes to the ledger
    gaps = []
    for _ in range(12):
        with sim_app.app_context():
            row = db.session.scalar(select(SubmitAttempt).where(SubmitAttempt.task_id.is_(None)))
            if row.cleanup:
                break
            gaps.append((row.cleanup_after - utcnow()).total_seconds())
            db.session.execute(update(SubmitAttempt).values(cleanup_after=None))
            db.session.commit()
        sweep(sim_app)
    [job] = jobs_for(sim, vid)
    assert row.cleanup == "deleted" and row.cleanup_tries == 9 and job["stop_requested"]
    assert max(gaps) <= 4 * base * 1.2, gaps

    other = create(sim_app, ada, prompt="a stray from long ago")
    sim.add_faults([{"op": "delete", "kind": "drop", "count": 1}])
    with sim_app.app_context():
        db.session.execute(update(SubmitAttempt).values(started_at=utcnow() - orphans.STOP_FOR))
        db.session.commit()
        tasks.delete(db.session.get(User, ada), other)
        row = db.session.scalar(
            select(SubmitAttempt).where(SubmitAttempt.task_id.is_(None), SubmitAttempt.id != row.id)
        )
        assert row.cleanup == "failed" and "could not be reached" in row.cleanup_note


# ---- content is verified before it counts ---------------------------------------------


@pytest.mark.parametrize(
    "fault, said",
    [("malformed", "application/json instead of a video"), ("malformed_content", "does not open")],
)
def test_a_malformed_download_is_retried_then_kept_only_when_it_is_a_video(
    sim_app, sim, fault, said
):
    sim.add_faults([{"op": "content", "kind": fault, "count": 2}])
    vid = create(sim_app, user(sim_app))
    task = finish(sim_app, sim, vid)
    assert task.status == st.COMPLETED
    entry = task.archive["video"]
    assert entry["content_type"] == "video/mp4" and entry["verified"]["duration"] > 0
    assert any("Archiving failed" in e and said in e for e in events(sim_app, vid))


def test_a_result_that_never_opens_fails_plainly(sim_app, sim):
    sim.add_faults([{"op": "content", "kind": "malformed_content", "count": 50}])
    vid = create(sim_app, user(sim_app))
    task = finish(sim_app, sim, vid, max_rounds=30)
    assert task.status == st.FAILED and task.error_code == "invalid_content"
    assert "could not be kept" in task.error_message and "does not open" in task.error_message
    assert not task.archive


def test_refresh_repairs_an_invalid_archive(sim_app, sim):
    vid = create(sim_app, user(sim_app))
    task = finish(sim_app, sim, vid)
    with sim_app.app_context():
        store = archive.store()
        key = task.archive["video"]["key"]
        store.put_stream(key, [b'{"id": "video_'], "video/mp4")  # what the old code kept
        db.session.execute(
            update(VideoTask)
            .where(VideoTask.video_id == vid)
            .values(archive={"video": {"key": key, "content_type": "video/mp4", "size": 14}})
        )
        db.session.commit()
        tasks.request_refresh(db.session.get(User, task.user_id), vid)
    sweep(sim_app)
    task = get(sim_app, vid)
    assert task.pending_action is None and task.archive["video"]["verified"]["duration"] > 0
    with sim_app.app_context():
        assert archive.store().stat(task.archive["video"]["key"]).size > 1000


# ---- one Idempotency-Key, many concurrent requests ------------------------------------


@pytest.mark.postgres
def test_concurrent_creates_with_one_idempotency_key_make_one_task(sim_app, sim, backend):
    if backend != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    with sim_app.app_context():
        u = accounts.register("ada@example.com", "correct horse")
        token = accounts.create_token(u, "race")[1]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "one-key"}
    body = {"prompt": "one boat, many clicks", "model": "sora_video2"}
    with LiveServer(sim_app) as live, ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(
                lambda i: requests.post(
                    f"{live.url}/v1/videos",
                    json=body if i % 4 else {**body, "prompt": f"a different body {i}"},
                    headers=headers,
                    timeout=30,
                ),
                range(20),
            )
        )
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {200, 422}, codes
    ok = [r.json()["id"] for r in answers if r.status_code == 200]
    assert len(set(ok)) == 1
    for r in answers:
        if r.status_code == 422:
            assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert len([j for j in sim.ledger() if j["client_ref"] == ok[0]]) == 1
    with sim_app.app_context():
        assert db.session.scalar(select(db.func.count(VideoTask.id))) == 1
