"""Helpers shared by the benchmarks: throwaway PostgreSQL databases, gunicorn, latency stats."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def pg_database(keep: bool = False):
    """A fresh PostgreSQL database for one benchmark run."""
    name = f"reelay_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_http(url: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(args: list[str], env: dict | None = None, health: str | None = None, cwd: Path = ROOT):
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if health:
            wait_http(health)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def simulator(port: int, env: dict | None = None):
    return process(
        [sys.executable, "-m", "webapp.simulator", "--host", "127.0.0.1", "--port", str(port)],
        env={"REELAY_SIM_KEY": "sim-key", **(env or {})},
        health=f"http://127.0.0.1:{port}/_sim/stats",
    )


def gunicorn(
    port: int,
    db_url: str,
    workers: int = 2,
    threads: int = 8,
    env: dict | None = None,
    target: str = "wsgi:app",
    cwd: str | Path = ROOT,
):
    """gunicorn serving ``target`` from the checkout at ``cwd`` (a baseline can be
    another checkout: ``python -m`` imports from the working directory)."""
    return process(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--access-logfile",
            "/dev/null",
            target,
        ],
        env={
            "DATABASE_URL": db_url,
            "REELAY_SCHEDULER": "off",
            "SECRET_KEY": "bench",
            "LOG_LEVEL": "WARNING",
            "REELAY_API_RATE_LIMIT": "1000000 per minute",
            "REELAY_LOGIN_RATE_LIMIT": "1000 per minute",
            "REELAY_SIM_KEY": "sim-key",
            # Several workers share one limit store (gunicorn refuses memory:// with more).
            "RATELIMIT_STORAGE_URI": os.environ.get(
                "RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/14" if workers > 1 else "memory://"
            ),
            "RATELIMIT_KEY_PREFIX": f"reelay-bench-{port}",
            # No worker recycling mid-measurement: a fresh worker's imports (a second or
            # more of CPU) would land on whichever server happened to be timed.
            "GUNICORN_MAX_REQUESTS": "0",
            **(env or {}),
        },
        health=f"http://127.0.0.1:{port}/health",
        cwd=Path(cwd),
    )


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def summary(values_ms: list[float]) -> str:
    return (
        f"n={len(values_ms):>5}  p50={pct(values_ms, 0.5):7.1f} ms  p95={pct(values_ms, 0.95):7.1f} ms  "
        f"mean={statistics.fmean(values_ms):7.1f} ms"
    )


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stats() -> dict[int, tuple[str, int, float]]:
    """pid -> (command, parent pid, CPU seconds of it and its reaped children)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # utime, stime, cutime, cstime are fields 14-17 of stat(5); fields[0] is field 3
        ticks = sum(int(x) for x in fields[11:15])
        out[int(entry)] = (comm, int(fields[1]), ticks / _TICK)
    return out


def cpu_seconds(root: int | None = None, command: str | None = None) -> float:
    """CPU time used so far by a process tree (``root``: a server and its workers,
    including workers that have exited) or by every process named ``command``
    (``postgres``: the server and its backends). Read from /proc (Linux)."""
    stats = _stats()
    if command is not None:
        return sum(cpu for comm, _, cpu in stats.values() if comm == command)
    tree, total, grew = {root}, 0.0, True
    while grew:
        grew = False
        for pid, (_, ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    for pid in tree:
        total += stats.get(pid, ("", 0, 0.0))[2]
    return total


def run_clients(n: int, concurrency: int, step) -> float:
    """``step(session, i)`` for i in 0..n-1 from ``concurrency`` threads, each with its own
    requests session; returns the wall time in seconds."""
    lock = threading.Lock()
    counter = iter(range(n))

    def worker():
        s = requests.Session()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            step(s, i)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t0
