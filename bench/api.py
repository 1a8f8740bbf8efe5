"""API throughput: create + retrieve against the simulator under gunicorn, and (when it
can be installed into bench/.venv-litellm) the same requests relayed through LiteLLM's
proxy pointed at the same simulator, side by side.

    .venv/bin/python bench/api.py [--requests 400] [--concurrency 8] [--no-litellm]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.common import ROOT, free_port, gunicorn, pct, process, run_clients, simulator  # noqa: E402

LITELLM_VENV = ROOT / "bench" / ".venv-litellm"


def drive(base: str, headers: dict, n: int, concurrency: int, model: str) -> dict:
    create_ms: list[float] = []
    get_ms: list[float] = []
    errors = []

    def step(s, i):
        t = time.perf_counter()
        r = s.post(
            f"{base}/videos",
            json={"prompt": f"bench {i}", "model": model, "seconds": "4", "size": "1280x720"},
            headers=headers,
            timeout=60,
        )
        c = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            errors.append(i)
            return
        t = time.perf_counter()
        g = s.get(f"{base}/videos/{r.json()['id']}", headers=headers, timeout=60)
        create_ms.append(c)
        (get_ms if g.status_code == 200 else errors).append((time.perf_counter() - t) * 1000)

    wall = run_clients(n, concurrency, step)
    return {
        "pairs_per_s": len(create_ms) / wall,
        "create_p50": pct(create_ms, 0.5),
        "create_p95": pct(create_ms, 0.95),
        "get_p50": pct(get_ms, 0.5),
        "get_p95": pct(get_ms, 0.95),
        "errors": len(errors),
    }


def litellm_available() -> bool:
    py = LITELLM_VENV / "bin" / "python"
    if not py.exists():
        print("installing LiteLLM proxy into bench/.venv-litellm (benchmark only) …")
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        res = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "litellm[proxy]"],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            print("LiteLLM could not be installed:", res.stderr.strip()[-300:])
            return False
    return (LITELLM_VENV / "bin" / "litellm").exists()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--no-litellm", action="store_true")
    args = ap.parse_args()
    sim_port, app_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    rows = []
    with simulator(sim_port), tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/api.sqlite3"
        env = {"DATABASE_URL": db_url, "REELAY_SIM_KEY": "sim-key", "REELAY_SCHEDULER": "off"}
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            check=True,
            env={**os.environ, **env},
            capture_output=True,
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "wsgi",
                "providers",
                "seed-simulator",
                "--url",
                sim_url,
            ],
            cwd=ROOT,
            check=True,
            env={**os.environ, **env},
            capture_output=True,
        )
        with gunicorn(app_port, db_url, workers=2, threads=8):
            base = f"http://127.0.0.1:{app_port}"
            tok = requests.post(
                f"{base}/api/auth/register",
                json={"email": "bench@example.com", "password": "bench-password"},
            ).json()["data"]["token"]
            rows.append(
                (
                    "Reelay (gunicorn 2x8, SQLite)",
                    drive(
                        f"{base}/v1",
                        {"Authorization": f"Bearer {tok}"},
                        args.requests,
                        args.concurrency,
                        "sora-2",
                    ),
                )
            )
        if not args.no_litellm and litellm_available():
            port = free_port()
            cfg = Path(tmp) / "litellm.yaml"
            cfg.write_text(
                textwrap.dedent(f"""
                model_list:
                  - model_name: sora-2
                    litellm_params:
                      model: openai/sora-2
                      api_base: {sim_url}/v1
                      api_key: sim-key
                general_settings:
                  master_key: sk-bench
            """)
            )
            with process(
                [
                    str(LITELLM_VENV / "bin" / "litellm"),
                    "--config",
                    str(cfg),
                    "--port",
                    str(port),
                    "--num_workers",
                    "2",
                ],
                health=f"http://127.0.0.1:{port}/health/liveliness",
            ):
                rows.append(
                    (
                        "LiteLLM proxy (2 workers)",
                        drive(
                            f"http://127.0.0.1:{port}/v1",
                            {"Authorization": "Bearer sk-bench"},
                            args.requests,
                            args.concurrency,
                            "sora-2",
                        ),
                    )
                )
        print(
            f"\n{args.requests} create+retrieve pairs, {args.concurrency} concurrent clients, simulator upstream\n"
        )
        print(
            f"{'':<32} {'pairs/s':>8} {'create p50':>11} {'create p95':>11} {'get p50':>8} {'get p95':>8} {'errors':>7}"
        )
        for name, r in rows:
            print(
                f"{name:<32} {r['pairs_per_s']:>8.1f} {r['create_p50']:>9.1f}ms {r['create_p95']:>9.1f}ms "
                f"{r['get_p50']:>6.1f}ms {r['get_p95']:>6.1f}ms {r['errors']:>7}"
            )


if __name__ == "__main__":
    main()
