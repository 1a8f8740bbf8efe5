"""Create throughput with budgets on versus off, on PostgreSQL, side by side.

Reelay under gunicorn (2 workers × 8 threads) with the simulator as its provider; 8
clients create tasks through ``POST /api/video/tasks`` (each create commits the row and
submits once inline). "on" sets every cap (high enough never to refuse), so each create
locks its owner's row and counts this month's usage; "off" has no caps. The rounds
alternate off/on so drift on the machine hits both alike.

    .venv/bin/python bench/create.py [--requests 300] [--concurrency 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import ROOT, free_port, gunicorn, pct, pg_database, run_clients, simulator  # noqa: E402

CAPS = {"monthly_spend": 1e8, "monthly_seconds": 10**8, "concurrent": 10**6, "daily_tasks": 10**6}


def drive(base: str, token: str, n: int, concurrency: int, tag: str) -> dict:
    times: list[float] = []
    errors = []
    headers = {"Authorization": f"Bearer {token}"}

    def step(s, i):
        t = time.perf_counter()
        r = s.post(
            f"{base}/api/video/tasks",
            json={"prompt": f"{tag} {i}", "model": "sora_video2", "seconds": 4},
            headers=headers,
            timeout=60,
        )
        (times if r.status_code == 201 else errors).append((time.perf_counter() - t) * 1000)

    wall = run_clients(n, concurrency, step)
    return {"per_s": len(times) / wall, "times": times, "errors": len(errors)}


def set_caps(db_url: str, on: bool) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM site_settings WHERE key = 'default_caps'"))
        if on:
            conn.execute(
                text(
                    "INSERT INTO site_settings (key, value, updated_at) "
                    "VALUES ('default_caps', :v, now())"
                ),
                {"v": json.dumps(CAPS)},
            )
    engine.dispose()


def flask(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        check=True,
        env={**os.environ, **env},
        capture_output=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    sim_port, app_port = free_port(), free_port()
    results = {"off": [], "on": []}
    with pg_database() as db_url, simulator(sim_port):
        env = {"DATABASE_URL": db_url, "REELAY_SIM_KEY": "sim-key", "REELAY_SCHEDULER": "off"}
        flask(env, "db", "upgrade")
        flask(env, "providers", "seed-simulator", "--url", f"http://127.0.0.1:{sim_port}")
        with gunicorn(app_port, db_url, workers=2, threads=8):
            base = f"http://127.0.0.1:{app_port}"
            token = requests.post(
                f"{base}/api/auth/register",
                json={"email": "bench@example.com", "password": "bench-password"},
            ).json()["data"]["token"]
            drive(base, token, 40, args.concurrency, "warm-up")
            for r in range(args.rounds):
                for mode in ("off", "on"):
                    set_caps(db_url, mode == "on")
                    time.sleep(2.5)  # the process-local budget view is never cached; settle
                    results[mode].append(
                        drive(base, token, args.requests, args.concurrency, f"{mode}{r}")
                    )
    print(
        f"\n{args.requests} creates × {args.rounds} rounds per mode, {args.concurrency} "
        "concurrent clients, gunicorn 2x8, PostgreSQL, simulator upstream (inline submit)\n"
    )
    print(f"{'budgets':<8} {'creates/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    rows = {}
    for mode in ("off", "on"):
        times = [t for res in results[mode] for t in res["times"]]
        per_s = sum(res["per_s"] for res in results[mode]) / len(results[mode])
        errors = sum(res["errors"] for res in results[mode])
        rows[mode] = per_s
        print(
            f"{mode:<8} {per_s:>10.1f} {pct(times, 0.5):>8.1f} {pct(times, 0.95):>8.1f} {errors:>7}"
        )
    overhead = (rows["off"] - rows["on"]) / rows["off"] * 100
    print(f"\noverhead of budgets on throughput: {overhead:+.1f} % (target < 10 %)")


if __name__ == "__main__":
    main()
