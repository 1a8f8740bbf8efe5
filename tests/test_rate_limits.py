"""Limits hold as configured with several processes: gunicorn with two workers shares
one Redis store; two workers with the in-memory store refuse to start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from .bench_ports import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_or_skip():
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001 - no server: skip unless CI requires it
        if os.environ.get("REELAY_REDIS_TESTS") == "required":
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip("Redis is not reachable")


def gunicorn(tmp_path, workers: int, storage: str, port: int, log: Path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'limits.sqlite3'}",
        "SECRET_KEY": "limits-secret",
        "REELAY_SCHEDULER": "off",
        "RATELIMIT_STORAGE_URI": storage,
        "RATELIMIT_KEY_PREFIX": f"reelay-test-{uuid.uuid4().hex[:8]}",
        "REELAY_LOGIN_RATE_LIMIT": "10 per minute",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--config",
            "gunicorn.conf.py",
            "--access-logformat",
            "%(p)s %(s)s",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_up(url: str, proc) -> None:
    for _ in range(100):
        if proc.poll() is not None:
            raise AssertionError("gunicorn exited")
        try:
            requests.get(url + "/health", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not come up")


def test_two_workers_share_one_login_limit_through_redis(tmp_path):
    redis_or_skip()
    port, log = free_port(), tmp_path / "gunicorn.log"
    proc = gunicorn(tmp_path, 2, REDIS_URL, port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, proc)
        codes = []
        for i in range(20):  # a new connection each time, so both workers answer
            r = requests.post(
                f"{url}/api/auth/login",
                json={"email": f"guess{i}@example.com", "password": "nope nope"},
                headers={"Connection": "close"},
                timeout=10,
            )
            codes.append(r.status_code)
    finally:
        proc.terminate()
        proc.wait(20)
    assert codes.count(401) == 10 and codes.count(429) == 10, codes
    pids = {
        line.split()[0] for line in log.read_text().splitlines() if line.endswith((" 401", " 429"))
    }
    assert len(pids) == 2, "both workers must have answered"


def test_two_workers_with_in_memory_limits_refuse_to_start(tmp_path):
    port, log = free_port(), tmp_path / "gunicorn.log"
    proc = gunicorn(tmp_path, 2, "memory://", port, log)
    assert proc.wait(30) != 0
    assert "RATELIMIT_STORAGE_URI=redis://" in log.read_text()
