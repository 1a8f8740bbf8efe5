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


def child(db_url: str, sim_url: str, ids_file: str, workers: int, batch: int) -> None:
    """Runs in its own process: seed the rows, then sweep until every task was polled once."""
    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select

    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import VideoTask
    from webapp.models.base import utcnow
    from webapp.services import accounts, poller, sim_seed, tasks

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
                "n": len(ids),
                "seconds": elapsed,
                "checks_per_s": len(ids) / elapsed,
                "cpu_s": cpu,
                "peak_rss_mb": rss_mb(os.getpid()),
            }
        )
    )


def run(kind: str, n: int, sim_url: str, workers: int, batch: int) -> dict:
    ids = make_upstream_jobs(sim_url, n)
    ids_file = Path(tempfile.mkdtemp()) / "ids.json"
    ids_file.write_text(json.dumps(ids))

    def go(url):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                url,
                sim_url,
                str(ids_file),
                str(workers),
                str(batch),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "REELAY_SIM_KEY": "sim-key", "LOG_LEVEL": "WARNING"},
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])

    if kind == "sqlite":
        return go(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
    with pg_database() as url:
        return go(url)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
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
        for kind in args.db.split(","):
            for n in (args.small, args.n):
                r = run(kind, n, sim_url, args.workers, args.batch)
                print(
                    f"{kind:<11} {r['n']:>7,} {r['checks_per_s']:>9.0f} {r['seconds']:>8.1f} {r['cpu_s']:>6.1f} "
                    f"{100 * r['cpu_s'] / r['seconds']:>5.0f}% {r['peak_rss_mb']:>7.0f} MB"
                )
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
        print(f"\nsimulator peak RSS {rss_mb(sim_proc.pid):.0f} MB")


if __name__ == "__main__":
    main()
