"""Poller throughput: N in-flight tasks against the simulator with 100 ms status latency.

    .venv/bin/python bench/poller.py [--n 10000] [--latency-ms 100] [--db sqlite,postgresql]

For each database it prints status checks per second, the time to sweep every task
once, CPU time and peak memory (RSS high-water mark of the poller process). Each run
is its own process so peak memory compares across N. Target: >= 300 checks/s on a
2-core machine, memory flat in N.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.common import free_port, pg_database, rss_mb, simulator  # noqa: E402


def make_upstream_jobs(sim_url: str, n: int) -> list[str]:
    s = requests.Session()
    s.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))

    def one(i):
        r = s.post(
            f"{sim_url}/v1/videos",
            json={"prompt": "bench boat", "model": "sora-2", "seconds": "4"},
            headers={"Authorization": "Bearer sim-key", "Idempotency-Key": f"bench-{i}"},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()["id"]

    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(one, range(n)))


def child(
    db_url: str, sim_url: str, ids_file: str, workers: int, batch: int, role: str = "both"
) -> None:
    """Runs in its own process: seed the rows ("seed"), sweep until every task was polled
    once ("sweep", several of these may share one database), or both."""
    from webapp import create_app

    ids = json.loads(Path(ids_file).read_text())
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "SCHEDULER_ENABLED": False,
            "TESTING": True,
            "POLL_WORKERS": workers,
            "POLL_BATCH": batch,
            "UPSTREAM_READ_TIMEOUT": 30.0,
            "ARCHIVE_DIR": tempfile.mkdtemp(),
        }
    )
    if role in ("both", "seed"):
        _seed(app, ids, sim_url)
    if role == "seed":
        return
    _sweep(app, len(ids))


def _seed(app, ids, sim_url):
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models import VideoTask
    from webapp.models.base import utcnow
    from webapp.services import accounts, sim_seed, tasks

    with app.app_context():
        upgrade()
        user = accounts.register("bench@example.com", "bench-password")
        provider = sim_seed.seed(sim_url)[0]
        provider.max_rps = 100000
        db.session.commit()
        now = utcnow()
        rows = [
            dict(
                video_id=tasks.new_video_id(),
                external_task_id=ext,
                user_id=user.id,
                provider_id=provider.id,
                model="sora_video2",
                upstream_model="sora-2",
                prompt="bench boat",
                size="1280x720",
                seconds=4,
                aspect_ratio="16:9",
                options={},
                media_type="VIDEO",
                status="PROCESSING",
                progress=0,
                upstream_data={},
                archive={},
                attempts=1,
                poll_count=0,
                error_streak=0,
                created_at=now,
                submitted_at=now,
                next_poll_at=now,
                deadline_at=None,
                updated_at=now,
            )
            for ext in ids
        ]
        for i in range(0, len(rows), 2000):
            db.session.execute(insert(VideoTask), rows[i : i + 2000])
        db.session.commit()
        del rows


def _sweep(app, n: int):
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import VideoTask
    from webapp.services import poller

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    with app.app_context():
        while True:
            poller.run_once(app)
            left = db.session.scalar(select(func.count()).where(VideoTask.poll_count == 0))
            db.session.commit()
            if not left:
                break
    elapsed = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(
        json.dumps(
            {
                "n": n,
                "seconds": elapsed,
                "checks_per_s": n / elapsed,
                "cpu_s": cpu,
                "peak_rss_mb": rss_mb(os.getpid()),
            }
        )
    )


def _child_args(url, sim_url, ids_file, workers, batch, role):
    return [
        sys.executable,
        __file__,
        "--child",
        url,
        sim_url,
        str(ids_file),
        str(workers),
        str(batch),
        role,
    ]


CHILD_ENV = {**os.environ, "REELAY_SIM_KEY": "sim-key", "LOG_LEVEL": "WARNING"}


def _result(out) -> dict:
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(kind: str, n: int, sim_url: str, workers: int, batch: int) -> dict:
    ids = make_upstream_jobs(sim_url, n)
    ids_file = Path(tempfile.mkdtemp()) / "ids.json"
    ids_file.write_text(json.dumps(ids))

    def go(url):
        out = subprocess.run(
            _child_args(url, sim_url, ids_file, workers, batch, "both"),
            capture_output=True,
            text=True,
            env=CHILD_ENV,
        )
        return _result(out)

    if kind == "sqlite":
        return go(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
    with pg_database() as url:
        return go(url)


def run_processes(n: int, procs: int, sim_url: str, workers: int, batch: int) -> dict:
    """N tasks in one PostgreSQL, swept by ``procs`` poller processes at once (each with
    ``workers`` threads); checks/s over the wall time until the last one is done."""
    ids = make_upstream_jobs(sim_url, n)
    ids_file = Path(tempfile.mkdtemp()) / "ids.json"
    ids_file.write_text(json.dumps(ids))
    with pg_database() as url:
        seeded = subprocess.run(
            _child_args(url, sim_url, ids_file, workers, batch, "seed"),
            capture_output=True,
            text=True,
            env=CHILD_ENV,
        )
        if seeded.returncode != 0:
            raise RuntimeError(seeded.stderr[-2000:])
        t0 = time.monotonic()
        running = [
            subprocess.Popen(
                _child_args(url, sim_url, ids_file, workers, batch, "sweep"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=CHILD_ENV,
            )
            for _ in range(procs)
        ]
        outs = []
        for p in running:
            stdout, stderr = p.communicate()
            outs.append(_result(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)))
        wall = time.monotonic() - t0
    return {
        "checks_per_s": n / wall,
        "seconds": wall,
        "cpu_s": sum(o["cpu_s"] for o in outs),
        "rss": [o["peak_rss_mb"] for o in outs],
    }


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(
            sys.argv[2],
            sys.argv[3],
            sys.argv[4],
            int(sys.argv[5]),
            int(sys.argv[6]),
            sys.argv[7] if len(sys.argv) > 7 else "both",
        )
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--workers", type=int, default=64, help="REELAY_POLL_WORKERS")
    ap.add_argument("--batch", type=int, default=500, help="REELAY_POLL_BATCH")
    ap.add_argument(
        "--small", type=int, default=1000, help="a smaller N to show memory is flat in N"
    )
    ap.add_argument(
        "--processes",
        default="",
        help="e.g. 1,2,4: also sweep N tasks on PostgreSQL with that many poller processes",
    )
    args = ap.parse_args()
    port = free_port()
    sim_url = f"http://127.0.0.1:{port}"
    with simulator(port) as sim_proc:
        requests.post(
            f"{sim_url}/_sim/config",
            json={"STATUS_LATENCY_MS": args.latency_ms, "QUEUE_SECONDS": 0, "RUN_SECONDS": 86400},
            timeout=5,
        ).raise_for_status()
        print(
            f"simulator status latency {args.latency_ms} ms; poller: {args.workers} threads, batch {args.batch}; "
            f"{os.cpu_count()} CPUs\n"
        )
        print(
            f"{'db':<11} {'N':>7} {'checks/s':>9} {'sweep s':>8} {'CPU s':>6} {'CPU %':>6} {'peak RSS':>9}"
        )

        def fresh():
            requests.post(f"{sim_url}/_sim/reset", timeout=30)
            requests.post(
                f"{sim_url}/_sim/config",
                json={
                    "STATUS_LATENCY_MS": args.latency_ms,
                    "QUEUE_SECONDS": 0,
                    "RUN_SECONDS": 86400,
                },
                timeout=5,
            )

        for kind in [k for k in args.db.split(",") if k]:
            for n in (args.small, args.n):
                r = run(kind, n, sim_url, args.workers, args.batch)
                print(
                    f"{kind:<11} {r['n']:>7,} {r['checks_per_s']:>9.0f} {r['seconds']:>8.1f} {r['cpu_s']:>6.1f} "
                    f"{100 * r['cpu_s'] / r['seconds']:>5.0f}% {r['peak_rss_mb']:>7.0f} MB"
                )
                fresh()
        if args.processes:
            print(
                f"\nscale-out: {args.n:,} tasks in one PostgreSQL, {args.workers} threads per process"
            )
            print(
                f"{'processes':>9} {'checks/s':>9} {'sweep s':>8} {'CPU s':>6}  peak RSS per process"
            )
            for procs in [int(p) for p in args.processes.split(",")]:
                fresh()
                r = run_processes(args.n, procs, sim_url, args.workers, args.batch)
                rss = ", ".join(f"{m:.0f}" for m in r["rss"])
                print(
                    f"{procs:>9} {r['checks_per_s']:>9.0f} {r['seconds']:>8.1f} {r['cpu_s']:>6.1f}  {rss} MB"
                )
        print(f"\nsimulator peak RSS {rss_mb(sim_proc.pid):.0f} MB")


if __name__ == "__main__":
    main()
