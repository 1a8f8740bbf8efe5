"""Randomized fault schedules against the real processes, and the invariants they must keep.

A schedule (drawn from a seed, so any failure can be replayed) creates tasks through
gunicorn's ``/v1/videos`` with identical prompts across users, queues simulator faults on
every operation (429, 5xx, creates slower than the lease, dropped connections, answers
lost after the job was made, malformed bodies, malformed content), cancels and deletes
at random moments, and kill -9s the web server and the two ``flask poller run``
processes mid-operation, restarting them. Then it waits for every task to end and
checks, against the simulator's ledger of every job and the create that made it:

- every task is terminal by its deadline (plus the lease and a poll, for a dead holder);
- at most one upstream job was created for each task;
- no task tracks a job created for another;
- every completed task's archive opens as valid media;
- every job Reelay created is tracked by exactly one task or was stopped upstream.

Used by tests/test_torture.py (a few schedules in CI) and bench/torture.py (many).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ("a paper boat in the rain", "a red fox in snow", "a lighthouse at dawn")
FAULT_OPS = ("create", "status", "content", "list", "delete", "any")
FAULT_KINDS = ("429", "500", "502", "503", "slow", "drop", "malformed", "malformed_content")
PROCESSES = ("web", "poller-1", "poller-2")
LEASE = 5
DEADLINE = 30
SLACK = LEASE + 6  # a dead holder's lease must run out, then a sweep and a call

SETTINGS = {
    "REELAY_ENV": "development",
    "SECRET_KEY": "torture-secret",
    "REELAY_SIM_KEY": "sim-key",
    "REELAY_LEASE_SECONDS": str(LEASE),
    "REELAY_TASK_DEADLINE": str(DEADLINE),
    "REELAY_RECONCILE_DELAYS": "1,2,3",
    "REELAY_RETRY_BASE": "0.5",
    "REELAY_POLL_INTERVAL": "0.3",
    "REELAY_POLL_WORKERS": "8",
    "REELAY_UPSTREAM_READ_TIMEOUT": "10",
    "REELAY_UPSTREAM_CONNECT_TIMEOUT": "1",
    "REELAY_API_RATE_LIMIT": "100000 per minute",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class Event:
    at: float
    kind: str  # create | fault | cancel | delete | kill | restart
    args: dict = field(default_factory=dict)


@dataclass
class Schedule:
    seed: int
    events: list[Event]
    tasks: int

    def describe(self) -> str:
        return json.dumps(
            {"seed": self.seed, "events": [[e.at, e.kind, e.args] for e in self.events]}
        )


def generate(seed: int, tasks: int = 12, span: float = 6.0) -> Schedule:
    """A reproducible schedule: the same seed always gives the same events."""
    rnd = random.Random(seed)
    events: list[Event] = []
    for i in range(tasks):
        at = round(rnd.uniform(0, span), 2)
        events.append(
            Event(at, "create", {"n": i, "user": rnd.randrange(2), "prompt": rnd.choice(PROMPTS)})
        )
        roll = rnd.random()
        if roll < 0.25:
            events.append(Event(round(at + rnd.uniform(0, 3), 2), "cancel", {"n": i}))
        elif roll < 0.4:
            events.append(Event(round(at + rnd.uniform(0, 3), 2), "delete", {"n": i}))
    for _ in range(rnd.randint(6, 16)):
        op = rnd.choice(FAULT_OPS)
        kinds = FAULT_KINDS + (("drop_after_create",) * 3 if op == "create" else ())
        fault = {"op": op, "kind": rnd.choice(kinds), "count": rnd.randint(1, 3)}
        if fault["kind"] == "slow":
            fault["delay"] = rnd.choice((1.0, LEASE + 1.0))
        if fault["kind"] == "429":
            fault["retry_after"] = 1
        events.append(Event(round(rnd.uniform(0, span), 2), "fault", fault))
    for _ in range(rnd.randint(1, 3)):
        name = rnd.choice(PROCESSES)
        at = round(rnd.uniform(0.3, span), 2)
        events.append(Event(at, "kill", {"name": name}))
        events.append(Event(round(at + rnd.uniform(0.3, 2.0), 2), "restart", {"name": name}))
    events.sort(key=lambda e: (e.at, e.kind != "kill"))
    return Schedule(seed, events, tasks)


def _redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001 - no Redis: the web server runs one worker
        return None
    return url


class Cluster:
    """gunicorn (2 workers, no scheduler) and two ``flask poller run`` processes."""

    def __init__(
        self, db_url: str, sim_url: str, archive_dir: str, port: int, logs: Path, extra=None
    ):
        self.env = {
            **os.environ,
            **SETTINGS,
            **(extra or {}),
            "DATABASE_URL": db_url,
            "REELAY_SIMULATOR_URL": sim_url,
            "REELAY_ARCHIVE_DIR": archive_dir,
            "PYTHONPATH": str(ROOT),
            "FLASK_APP": "wsgi",
        }
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}

    def _command(self, name: str) -> tuple[list[str], dict]:
        bindir = Path(sys.executable).parent
        if name == "web":
            redis = _redis_url()
            env = {
                **self.env,
                "REELAY_SCHEDULER": "off",
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                # Two workers need the shared limits store; without Redis, one worker.
                "GUNICORN_WORKERS": "2" if redis else "1",
                "GUNICORN_THREADS": "4",
                "RATELIMIT_STORAGE_URI": redis or "memory://",
                "RATELIMIT_KEY_PREFIX": f"torture-{self.port}",
            }
            return [str(bindir / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"], env
        return [str(bindir / "flask"), "poller", "run"], {**self.env, "REELAY_SCHEDULER": "off"}

    def start(self, name: str) -> None:
        cmd, env = self._command(name)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
        if name == "web":
            self.wait_web()

    def wait_web(self, timeout: float = 20) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if requests.get(self.url + "/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not come up")

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def up(self) -> None:
        for name in PROCESSES:
            self.start(name)

    def down(self) -> None:
        for proc in list(self.procs.values()):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in list(self.procs.items()):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            self.procs.pop(name, None)


class Client:
    """What a program using the API does: retry a create with its Idempotency-Key until
    the server answers, and act on the tasks it was told about."""

    def __init__(self, cluster: Cluster, tokens: list[str]):
        self.cluster = cluster
        self.tokens = tokens
        self.video_ids: dict[int, tuple[int, str]] = {}  # n -> (user, video_id)
        self.lock = threading.Lock()

    def _headers(self, user: int, key: str | None = None) -> dict:
        h = {"Authorization": f"Bearer {self.tokens[user]}"}
        if key:
            h["Idempotency-Key"] = key
        return h

    def create(self, n: int, user: int, prompt: str, seed: int) -> None:
        key = f"torture-{seed}-{n}"
        body = {"prompt": prompt, "model": "sora_video2", "seconds": "4"}
        for _ in range(60):
            try:
                r = requests.post(
                    self.cluster.url + "/v1/videos",
                    json=body,
                    headers=self._headers(user, key),
                    timeout=30,
                )
            except requests.RequestException:
                time.sleep(0.5)  # the web server is down or was killed mid-request
                continue
            if r.status_code == 200:
                with self.lock:
                    self.video_ids[n] = (user, r.json()["id"])
                return
            time.sleep(0.5)

    def act(self, kind: str, n: int) -> None:
        with self.lock:
            known = self.video_ids.get(n)
        if known is None:
            return
        user, vid = known
        for _ in range(10):
            try:
                if kind == "cancel":
                    requests.post(
                        f"{self.cluster.url}/api/video/tasks/{vid}/cancel",
                        headers=self._headers(user),
                        timeout=30,
                    )
                else:
                    requests.delete(
                        f"{self.cluster.url}/v1/videos/{vid}",
                        headers=self._headers(user),
                        timeout=30,
                    )
                return
            except requests.RequestException:
                time.sleep(0.5)


@dataclass
class Report:
    seed: int
    tasks: int = 0
    upstream_jobs: int = 0
    duplicates: int = 0
    lost: int = 0
    stuck: int = 0
    cross_task: int = 0
    invalid_archives: int = 0
    details: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (
            self.duplicates or self.lost or self.stuck or self.cross_task or self.invalid_archives
        )


def prepare(db_url: str, sim_url: str) -> list[str]:
    """Fresh schema, the simulator provider, two users with API tokens."""
    from webapp import create_app
    from webapp.extensions import db
    from webapp.services import accounts, sim_seed

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "SCHEDULER_ENABLED": False,
            "TESTING": True,
            "SIGNUP_POLICY": "open",  # both users active at once
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        sim_seed.seed(sim_url)
        tokens = []
        for i in range(2):
            user = accounts.register(f"user{i}@example.com", "correct horse")
            tokens.append(accounts.create_token(user, "torture")[1])
        db.session.remove()
        db.engine.dispose()
    return tokens


def circuit(seed: int) -> dict:
    """Odd seeds keep the circuit breaker at its default, so it opens under the dense
    faults and creates are refused locally; even seeds raise the threshold out of
    reach, so the faults reach the exactly-once machinery instead of a closed door."""
    return {} if seed % 2 else {"REELAY_CIRCUIT_THRESHOLD": "100000"}


def run(schedule: Schedule, db_url: str, sim, workdir: Path, port: int) -> Report:
    sim.reset()
    sim.set_config(QUEUE_SECONDS=0.5, RUN_SECONDS=1.5)
    tokens = prepare(db_url, sim.url)
    archive_dir = workdir / "archive"
    archive_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    cluster = Cluster(db_url, sim.url, str(archive_dir), port, workdir, circuit(schedule.seed))
    cluster.up()
    client = Client(cluster, tokens)
    threads = []
    timings = {"start": time.monotonic() - began}
    try:
        start = time.monotonic()
        for event in schedule.events:
            delay = event.at - (time.monotonic() - start)
            if delay > 0:
                time.sleep(delay)
            threads.append(_fire(event, schedule, cluster, client, sim))
        for thread in threads:
            if thread is not None:
                thread.join(120)
        for name in PROCESSES:
            if name not in cluster.procs:
                cluster.start(name)
        timings["events"] = time.monotonic() - start
        mark = time.monotonic()
        _settle(db_url, timeout=DEADLINE + SLACK + 10)
        timings["settle"] = time.monotonic() - mark
        # Jobs nobody owns are stopped by the orphan sweep: give it a few rounds.
        mark = time.monotonic()
        while (
            time.monotonic() - mark < 6 * LEASE
            and not check(schedule, db_url, sim, str(archive_dir)).ok
        ):
            time.sleep(1)
        timings["orphans"] = time.monotonic() - mark
    finally:
        mark = time.monotonic()
        cluster.down()
        timings["down"] = time.monotonic() - mark
    report = check(schedule, db_url, sim, str(archive_dir))
    report.timings = {k: round(v, 1) for k, v in timings.items()}
    return report


def _fire(event: Event, schedule: Schedule, cluster: Cluster, client: Client, sim):
    a = event.args
    if event.kind == "fault":
        sim.add_faults([a])
        return None
    if event.kind == "kill":
        cluster.kill(a["name"])
        return None
    if event.kind == "restart":
        if a["name"] not in cluster.procs:
            cluster.start(a["name"])
        return None
    if event.kind == "create":
        target, args = client.create, (a["n"], a["user"], a["prompt"], schedule.seed)
    else:
        target, args = client.act, (event.kind, a["n"])
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _settle(db_url: str, timeout: float) -> None:
    """Wait until every task has ended and no follow-up (a stop) is pending."""
    engine = create_engine(db_url)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            with engine.connect() as conn:
                active = conn.execute(
                    text(
                        "SELECT count(*) FROM video_tasks WHERE status IN ('QUEUED','PROCESSING') "
                        "OR pending_action IS NOT NULL"
                    )
                ).scalar()
            if not active:
                return
            time.sleep(0.5)
    finally:
        engine.dispose()


def check(schedule: Schedule, db_url: str, sim, archive_dir: str) -> Report:
    from webapp.storage import verify

    report = Report(seed=schedule.seed)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        tasks = conn.execute(
            text(
                "SELECT video_id, status, external_task_id, completed_at, deadline_at, archive "
                "FROM video_tasks"
            )
        ).all()
        ledger = conn.execute(
            text(
                "SELECT client_ref, number, state, external_id, cleanup, cleanup_note, task_id "
                "FROM submit_attempts"
            )
        ).all()
    engine.dispose()
    refs = {r.client_ref for r in ledger}
    status_of = {t.video_id: t.status for t in tasks}
    ours = {t.video_id for t in tasks} | {r for r in refs if r}
    if len(ours) < schedule.tasks - sum(e.kind == "delete" for e in schedule.events):
        report.details.append(f"only {len(ours)} of {schedule.tasks} creates were accepted")
        report.stuck += 1
    jobs = [j for j in sim.ledger() if j["client_ref"] in ours]
    by_id = {j["id"]: j for j in jobs}
    report.tasks = len(ours)
    report.upstream_jobs = len(jobs)
    per_ref: dict[str, int] = {}
    for j in jobs:
        per_ref[j["client_ref"]] = per_ref.get(j["client_ref"], 0) + 1
    for ref, count in per_ref.items():
        if count > 1:
            report.duplicates += count - 1
            report.details.append(f"{ref}: {count} upstream jobs")
    trackers: dict[str, list[str]] = {}
    for t in tasks:
        if t.external_task_id:
            trackers.setdefault(t.external_task_id, []).append(t.video_id)
            made_for = by_id.get(t.external_task_id, {}).get("client_ref")
            if made_for != t.video_id:
                report.cross_task += 1
                report.details.append(
                    f"{t.video_id} tracks {t.external_task_id} made for {made_for}"
                )
        if t.status not in ("COMPLETED", "FAILED", "CANCELLED"):
            report.stuck += 1
            report.details.append(f"{t.video_id} still {t.status}")
        elif (
            t.deadline_at
            and t.completed_at
            and t.completed_at > t.deadline_at + timedelta(seconds=SLACK)
        ):
            report.stuck += 1
            report.details.append(f"{t.video_id} ended {t.completed_at - t.deadline_at} late")
        if t.status == "COMPLETED":
            report.invalid_archives += _bad_archive(verify, archive_dir, t, report)
    for j in jobs:
        tracked = trackers.get(j["id"], [])
        if len(tracked) != 1 and not j["stop_requested"]:
            report.lost += 1
            rows = [tuple(r)[1:] for r in ledger if r.client_ref == j["client_ref"]]
            report.details.append(
                f"job {j['id']} of {j['client_ref']} ({status_of.get(j['client_ref'], 'deleted')}):"
                f" tracked by {tracked}, not stopped; attempts {rows}"
            )
    return report


def _bad_archive(verify, archive_dir: str, task, report: Report) -> int:
    archive = task.archive if isinstance(task.archive, dict) else json.loads(task.archive or "{}")
    entry = archive.get("video") or archive.get("image")
    if not entry:
        report.details.append(f"{task.video_id} completed with no archive")
        return 1
    path = Path(archive_dir) / entry["key"]
    try:
        family = "image" if "image" in archive else "video"
        verify.check(str(path), path.stat().st_size, family, entry.get("content_type"))
    except (OSError, verify.InvalidMedia) as exc:
        report.details.append(f"{task.video_id} archive does not open: {exc}")
        return 1
    return 0
