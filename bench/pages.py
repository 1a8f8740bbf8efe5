"""Page latency at 1,000,000 tasks in PostgreSQL, under gunicorn with a concurrent load,
beside the floor: a trivial Flask page rendering 20 rows (bench/floor.py) served by the
same gunicorn settings in the same run.

    .venv/bin/python bench/pages.py [--rows 1000000] [--concurrency 2,8] [--requests 1000]
        [--keep] [--database URL] [--only "admin stats"] [--baseline CHECKOUT]

Prints p50/p95, p95 as a multiple of the floor's (and of the old floor's, which
compiled its template per request; see bench/floor.py), and the server CPU each request
cost (gunicorn's processes, PostgreSQL's, the floors'; read from /proc, so independent
of queueing and of the load generator) for: history first page, page 500,
filtered, searched (a rare word and a common one); task page; progress fragment; admin
stats for 30 and 366 days. Targets: history p95 <= 1.5x the floor, fragment <= 1.2x,
admin stats (366 days) p95 < 250 ms at 8 clients. Load comes from threads on this
machine (2 cores shared with the server, so the figures are pessimistic).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import cpu_seconds, free_port, gunicorn, pct, pg_database, summary  # noqa: E402

SEED_SQL = """
INSERT INTO video_tasks (video_id, external_task_id, user_id, provider_id, model, upstream_model, prompt,
  size, seconds, aspect_ratio, options, media_type, status, progress, upstream_data, archive,
  attempts, poll_count, error_streak, created_at, submitted_at, completed_at, updated_at, cost, next_poll_at)
SELECT 'video_' || md5(i::text), 'ext_' || i,
  CASE WHEN i % 2 = 0 THEN 1 ELSE 2 + (i % 99) END, 1,
  (ARRAY['sora_video2','sora_video2-portrait','sora_video2-landscape'])[1 + i % 3], 'sora-2',
  'prompt ' || i || ' ' || (ARRAY['paper boat','glacier','neon city','forest','hummingbird'])[1 + i % 5]
    || CASE WHEN i % 100000 = 8 THEN ' aurora' ELSE '' END,
  '1280x720', 8, '16:9', '{}', 'VIDEO',
  (ARRAY['COMPLETED','COMPLETED','COMPLETED','COMPLETED','FAILED','CANCELLED','PROCESSING'])[1 + i % 7],
  CASE WHEN i % 7 = 6 THEN 50 ELSE 100 END, '{}', '{}', 1, 3, 0,
  now() - make_interval(secs => i * 30), now() - make_interval(secs => i * 30),
  CASE WHEN i % 7 = 6 THEN NULL ELSE now() - make_interval(secs => i * 30 - 40 - i % 120) END,
  now(), 0.8,
  CASE WHEN i % 7 = 6 THEN now() + interval '1 hour' ELSE NULL END
FROM generate_series(1, :rows) AS i
"""


def seed(url: str, rows: int) -> None:
    from webapp import create_app
    from webapp.extensions import db
    from webapp.services import accounts, sim_seed

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SCHEDULER_ENABLED": False, "TESTING": True})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        accounts.register("heavy@example.com", "bench-password")
        for i in range(2, 101):
            db.session.add(
                __import__("webapp.models", fromlist=["User"]).User(
                    email=f"user{i}@example.com", password_hash="x"
                )
            )
        db.session.commit()
        sim_seed.seed("http://127.0.0.1:9")
    engine = create_engine(url)
    t = time.monotonic()
    with engine.begin() as conn:
        # Bulk seeding skips the rollup triggers; the rebuild below counts it all at once.
        conn.execute(text("SET session_replication_role = replica"))
        conn.execute(text(SEED_SQL), {"rows": rows})
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO task_events (task_id, created_at, kind, to_status, message) "
                "SELECT id, created_at, 'status', status, 'seeded' FROM video_tasks WHERE id % 1000 = 0 OR user_id = 1 AND id > :hi"
            ),
            {"hi": rows - 50},
        )
    print(f"seeded {rows:,} tasks in {time.monotonic() - t:.1f}s")
    t = time.monotonic()
    with app.app_context():
        from webapp.services import stats

        written = stats.rebuild()
    print(f"flask stats rebuild: {written:,} rollup rows in {time.monotonic() - t:.1f}s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def login(s: requests.Session, base: str) -> None:
    page = s.get(base + "/auth/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    r = s.post(
        base + "/auth/login",
        data={"email": "heavy@example.com", "password": "bench-password", "csrf_token": token},
    )
    assert r.ok, r.status_code


def load(
    base: str,
    paths: list[str],
    concurrency: int,
    total: int,
    sessions: list | None = None,
    revalidate: bool = False,
) -> list[float]:
    """``total`` GETs from ``concurrency`` threads; Reelay's pages use ``sessions``,
    signed in beforehand, so no login (an argon2 hash each) runs while requests are timed.
    ``revalidate``: like a browser's cache, send each path's last ETag (If-None-Match)."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))
    sessions = sessions or [requests.Session() for _ in range(concurrency)]
    for s in sessions:
        # A fresh connection each round (the cookies stay): which gunicorn worker
        # accepts a connection is a coin toss, and a keep-alive connection kept for a
        # whole case would pin two clients to one worker's GIL for all of it.
        s.close()

    def worker(s: requests.Session):
        headers = {"HX-Request": "true"} if any("/live" in p for p in paths) else {}
        kept = s.__dict__.setdefault("kept_etags", {})
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            path = paths[i % len(paths)]
            asked = {**headers, "If-None-Match": kept[path]} if path in kept else headers
            t = time.perf_counter()
            resp = s.get(base + path, headers=asked)
            dt = (time.perf_counter() - t) * 1000
            if resp.status_code not in (200, 286, 304):
                raise RuntimeError(f"{path}: HTTP {resp.status_code}")
            if revalidate and "ETag" in resp.headers:
                kept[path] = resp.headers["ETag"]
            with lock:
                latencies.append(dt)

    threads = [threading.Thread(target=worker, args=(s,)) for s in sessions[:concurrency]]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--concurrency", default="2,8", help="comma-separated client counts")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5, help="floor/case alternations per case")
    ap.add_argument("--keep", action="store_true", help="keep the seeded database, print its URL")
    ap.add_argument("--database", help="measure an already seeded database (from --keep)")
    ap.add_argument("--only", help="only the cases whose name contains one of these (a,b)")
    ap.add_argument(
        "--baseline",
        help="another checkout of Reelay (e.g. a git worktree of the commit before a change), "
        "served beside this one and measured in the same rounds",
    )
    args = ap.parse_args()
    with pg_database(keep=args.keep) as url:
        if args.database:
            url = args.database
        else:
            seed(url, args.rows)
        if args.keep:
            print(f"database kept: {url}")
        with contextlib.ExitStack() as stack:
            apps = {}
            if args.baseline:
                apps["baseline"] = serve(stack, url, cwd=args.baseline)
            apps["Reelay"] = serve(stack, url)
            floor = serve(stack, url, target="bench.floor:app")
            base = apps["Reelay"][0]
            s = requests.Session()
            login(s, base)
            html = s.get(base + "/tasks?status=PROCESSING").text
            running = re.findall(r'/tasks/(video_[0-9a-f]+)"', html)[:20]
            done = re.findall(
                r'/tasks/(video_[0-9a-f]+)"', s.get(base + "/tasks?status=COMPLETED").text
            )[:20]
            today = time.strftime("%Y-%m-%d", time.gmtime())
            year_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 365 * 86400))
            cases = {
                "history first page": ["/tasks"],
                "history page 500": ["/tasks?page=500"],
                "history filtered": ["/tasks?status=FAILED&model=sora_video2-portrait"],
                "history searched, rare": ["/tasks?q=aurora"],
                "history searched, common": ["/tasks?q=hummingbird"],
                "task page": [f"/tasks/{v}" for v in done],
                "progress fragment": [f"/tasks/{v}/live" for v in running],
                # What a watching browser mostly sends: "changed?" about its kept copy
                # (the baseline, with no ETag, renders every time).
                "progress fragment, unchanged": [f"/tasks/{v}/live" for v in running],
                "admin stats (30 days)": ["/admin/stats"],
                "admin stats (366 days)": [f"/admin/stats?from={year_ago}&to={today}"],
            }
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                print(
                    f"\n{args.rows:,} tasks, gunicorn 2 workers x 8 threads, "
                    f"{concurrency} concurrent clients; in each of {args.rounds} rounds every "
                    f"server below takes its share in turn (the apps' order rotating), so all "
                    f"see the same machine. "
                    f"CPU: per request, the server's processes (+ PostgreSQL's). The old floor "
                    f"compiles its template on every request (bench/floor.py)\n"
                )
                signed_in = {}
                for who, (app_url, _) in apps.items():
                    signed_in[who] = [requests.Session() for _ in range(concurrency)]
                    for client in signed_in[who]:
                        login(client, app_url)
                load(floor[0], list(FLOORS), 2, 20)
                for name, paths in cases.items():
                    if args.only and not any(w in name for w in args.only.split(",")):
                        continue
                    total = args.requests if "stats" not in name else max(100, args.requests // 2)
                    runs = {who: Run() for who in (*apps, *FLOORS)}
                    again = "unchanged" in name
                    for who, (app_url, _) in apps.items():
                        load(app_url, paths, 2, 10, signed_in[who], again)  # warm up
                    share = total // args.rounds
                    for round_ in range(args.rounds):
                        for path in FLOORS:
                            runs[path].measure(floor[1], floor[0], [path], concurrency, share)
                        # Each round changes who goes first, so no server always follows
                        # the floors (or the other server).
                        order = list(apps.items())
                        order = order[round_ % len(order) :] + order[: round_ % len(order)]
                        for who, (app_url, proc) in order:
                            runs[who].measure(
                                proc,
                                app_url,
                                paths,
                                concurrency,
                                share,
                                signed_in[who],
                                revalidate=again,
                                pg=True,
                            )
                    print(name)
                    fair, old = pct(runs["/floor"].ms, 0.95), pct(runs["/floor-string"].ms, 0.95)
                    for who in apps:
                        r = runs[who]
                        p95 = pct(r.ms, 0.95)
                        print(
                            f"  {who:<24}{summary(r.ms)}  {p95 / fair:5.2f}x floor "
                            f"({p95 / old:4.2f}x old)  CPU {r.cpu_ms:5.2f} + {r.pg_ms:5.2f} ms"
                        )
                    for path, label in FLOORS.items():
                        r = runs[path]
                        print(f"  {label:<24}{summary(r.ms)}{'':30}CPU {r.cpu_ms:5.2f} ms")
                    print()


class Run:
    """One server's share of a case: latencies, and the CPU its requests cost."""

    def __init__(self) -> None:
        self.ms: list[float] = []
        self.cpu = self.pg = 0.0

    def measure(
        self, proc, url, paths, concurrency, n, sessions=None, revalidate=False, pg=False
    ) -> None:
        cpu, pg_cpu = cpu_seconds(proc.pid), cpu_seconds(command="postgres") if pg else 0.0
        self.ms += load(url, paths, concurrency, n, sessions, revalidate)
        self.cpu += cpu_seconds(proc.pid) - cpu
        if pg:
            self.pg += cpu_seconds(command="postgres") - pg_cpu

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / max(1, len(self.ms))

    @property
    def pg_ms(self) -> float:
        return self.pg * 1000 / max(1, len(self.ms))


def serve(stack: contextlib.ExitStack, url: str, **kw) -> tuple[str, object]:
    port = free_port()
    proc = stack.enter_context(gunicorn(port, url, **kw))
    return f"http://127.0.0.1:{port}", proc


FLOORS = {"/floor": "floor", "/floor-string": "old floor"}


if __name__ == "__main__":
    main()
