"""Many randomized fault schedules against the real processes (see
tests/torture_support.py); prints the counts that must all be 0.

    python bench/torture.py                 # 20 schedules from seed 1
    python bench/torture.py --schedules 100 --start 500
    python bench/torture.py --seed 1234     # replay one schedule (e.g. from a CI failure)
    python bench/torture.py --schedules 200 --keep --stop-on-fail   # keep a failure's database
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, pg_database  # noqa: E402
from tests.torture_support import generate, run  # noqa: E402
from webapp.simulator.server import SimulatorServer  # noqa: E402

COUNTS = ("duplicates", "lost", "stuck", "cross_task", "invalid_archives")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--schedules", type=int, default=20)
    ap.add_argument("--start", type=int, default=1)
    ap.add_argument("--seed", type=int, help="run just this schedule")
    ap.add_argument("--tasks", type=int, default=12)
    ap.add_argument("--keep", action="store_true", help="keep the database of the last run")
    ap.add_argument(
        "--stop-on-fail", action="store_true", help="stop at the first failing schedule"
    )
    args = ap.parse_args()
    # Stopped (kill, timeout): unwind like Ctrl-C, so the running schedule's gunicorn and
    # pollers are torn down instead of polling on against its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seeds = [args.seed] if args.seed is not None else range(args.start, args.start + args.schedules)
    totals = dict.fromkeys(("schedules", "tasks", "upstream_jobs", *COUNTS), 0)
    failed = []
    began = time.monotonic()
    with SimulatorServer({"API_KEY": "sim-key"}) as sim, pg_database(keep=args.keep) as db_url:
        for seed in seeds:
            workdir = Path(tempfile.mkdtemp(prefix=f"torture-{seed}-"))
            report = run(generate(seed, tasks=args.tasks), db_url, sim, workdir, free_port())
            totals["schedules"] += 1
            for key in ("tasks", "upstream_jobs", *COUNTS):
                totals[key] += getattr(report, key)
            line = " ".join(
                f"{k}={getattr(report, k)}" for k in ("tasks", "upstream_jobs", *COUNTS)
            )
            print(
                f"seed {seed}: {'ok ' if report.ok else 'FAIL'} {line} {report.timings}", flush=True
            )
            if not report.ok:
                failed.append(seed)
                for detail in report.details[:10]:
                    print(f"    {detail}")
                print(f"    logs: {workdir}")
                if args.stop_on_fail:
                    break
        if args.keep:
            print(f"database kept: {db_url}")
    minutes = (time.monotonic() - began) / 60
    print(f"\n{minutes:.1f} min")
    print(" ".join(f"{k}={v}" for k, v in totals.items()))
    if failed:
        print(f"failing seeds: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
