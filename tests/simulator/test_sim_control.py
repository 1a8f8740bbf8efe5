"""The control API (/_sim/...), fault injection for every kind and protocol, counters,
and the SimulatorServer / ``python -m webapp.simulator`` entry points."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import threading
import time

import pytest
import requests
from sim_helpers import KEY

from webapp.simulator import create_app
from webapp.simulator.server import SimulatorServer

OPENAI = {"Authorization": f"Bearer {KEY}"}

# (protocol, create request, status request factory) for each wire format
CREATES = {
    "openai": ("post", "/v1/videos", {"json": {"prompt": "p"}, "headers": OPENAI}),
    "fal": (
        "post",
        "/fal/fal-ai/veo3/fast",
        {"json": {"prompt": "p"}, "headers": {"Authorization": f"Key {KEY}"}},
    ),
    "replicate": (
        "post",
        "/v1/models/google/veo-3.1/predictions",
        {"json": {"input": {"prompt": "p"}}, "headers": OPENAI},
    ),
    "gemini": (
        "post",
        "/v1beta/models/veo-3.1-generate-preview:predictLongRunning",
        {"json": {"instances": [{"prompt": "p"}]}, "headers": {"x-goog-api-key": KEY}},
    ),
}


def call(sim, protocol, timeout=10, **extra):
    method, path, kw = CREATES[protocol]
    kw = {**kw, "headers": {**kw["headers"], **extra.pop("headers", {})}, **extra}
    return requests.request(method, sim.url + path, timeout=timeout, **kw)


@pytest.mark.parametrize("protocol", list(CREATES))
@pytest.mark.parametrize("kind", ["429", "500", "502", "503"])
def test_http_error_faults(simsrv, protocol, kind):
    simsrv.add_faults([{"op": "create", "protocol": protocol, "kind": kind, "retry_after": 7}])
    r = call(simsrv, protocol)
    assert r.status_code == int(kind)
    assert r.json()  # the protocol's own error shape, still JSON
    if kind == "429":
        assert r.headers["Retry-After"] == "7"
    assert simsrv.stats()["created_total"] == 0
    assert call(simsrv, protocol).ok  # consumed: the next one goes through


@pytest.mark.parametrize("protocol", list(CREATES))
def test_drop_closes_connection_without_response(simsrv, protocol):
    simsrv.add_faults([{"op": "create", "kind": "drop"}])
    with pytest.raises(requests.ConnectionError):
        call(simsrv, protocol)
    assert simsrv.stats()["created_total"] == 0


@pytest.mark.parametrize("protocol", list(CREATES))
def test_drop_after_create_is_ambiguous_but_counted(simsrv, protocol):
    simsrv.add_faults([{"op": "create", "kind": "drop_after_create"}])
    with pytest.raises(requests.ConnectionError):
        call(simsrv, protocol, headers={"Idempotency-Key": "vid-123"})
    stats = simsrv.stats()
    assert stats["created_total"] == 1 and stats["created_by_key"] == {"vid-123": 1}
    assert stats["jobs"] == 1


def test_drop_after_create_waits_for_a_create(simsrv):
    """It never fires on a status read: it stays queued for the next create."""
    vid = call(simsrv, "openai").json()["id"]
    simsrv.add_faults([{"kind": "drop_after_create"}])
    assert requests.get(f"{simsrv.url}/v1/videos/{vid}", headers=OPENAI).ok
    with pytest.raises(requests.ConnectionError):
        call(simsrv, "openai")
    assert simsrv.stats()["created_total"] == 2


def test_malformed_and_slow(simsrv):
    simsrv.add_faults([{"op": "create", "kind": "malformed"}])
    r = call(simsrv, "openai")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    simsrv.add_faults([{"op": "create", "kind": "slow", "delay": 0.6}])
    t = time.monotonic()
    assert call(simsrv, "openai").ok
    assert time.monotonic() - t >= 0.6
    simsrv.add_faults([{"op": "create", "kind": "slow", "delay": 0.8}])
    with pytest.raises(requests.Timeout):
        call(simsrv, "openai", timeout=0.3)
    time.sleep(0.8)  # let the abandoned request finish before the next test resets


def test_faults_match_op_and_protocol_in_order_with_count(simsrv):
    vid = call(simsrv, "openai").json()["id"]
    url = f"{simsrv.url}/v1/videos/{vid}"
    r = requests.post(
        f"{simsrv.url}/_sim/faults",
        json=[
            {"op": "status", "protocol": "fal", "kind": "500"},
            {"op": "status", "protocol": "openai", "kind": "503", "count": 2},
            {"op": "any", "protocol": "any", "kind": "429"},
        ],
    )
    assert r.json() == {"queued": 3}
    assert [requests.get(url, headers=OPENAI).status_code for _ in range(4)] == [503, 503, 429, 200]
    pending = requests.get(f"{simsrv.url}/_sim/faults").json()
    assert pending["queued"] == 1 and pending["faults"][0]["protocol"] == "fal"
    assert requests.delete(f"{simsrv.url}/_sim/faults").json()["queued"] == 0
    bad = requests.post(f"{simsrv.url}/_sim/faults", json=[{"kind": "explode"}])
    assert bad.status_code == 400


def test_faults_on_other_ops(simsrv):
    vid = call(simsrv, "openai").json()["id"]
    simsrv.advance(10)
    base = f"{simsrv.url}/v1/videos"
    for op, method, path, kw in [
        ("content", "get", f"/{vid}/content", {}),
        ("list", "get", "", {}),
        ("remix", "post", f"/{vid}/remix", {"json": {"prompt": "again"}}),
        ("cancel", "delete", f"/{vid}", {}),  # DELETE is OpenAI's cancel
    ]:
        simsrv.add_faults([{"op": op, "kind": "502"}])
        r = requests.request(method, base + path, headers=OPENAI, **kw)
        assert r.status_code == 502, op
        assert r.json()["error"]["type"] == "server_error"
    simsrv.add_faults([{"op": "content", "protocol": "gemini", "kind": "drop"}])
    name = call(simsrv, "gemini").json()["name"]
    simsrv.advance(10)
    op = requests.get(f"{simsrv.url}/v1beta/{name}", headers={"x-goog-api-key": KEY}).json()
    uri = op["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    with pytest.raises(requests.ConnectionError):
        requests.get(uri, headers={"x-goog-api-key": KEY})


def test_stats_count_creations_per_key_without_dedup(simsrv):
    for key in ("v1", "v1", "v2"):
        assert call(simsrv, "openai", headers={"Idempotency-Key": key}).ok
    assert call(simsrv, "fal").ok  # no header: counted under the prompt
    stats = requests.get(f"{simsrv.url}/_sim/stats").json()
    assert stats["created_by_key"] == {"v1": 2, "v2": 1, "p": 1}
    assert stats["created_total"] == 4 and stats["jobs"] == 4
    assert stats["requests"]["create"] == 4


def test_config_reset_and_advance_over_http(simsrv):
    r = requests.post(f"{simsrv.url}/_sim/config", json={"RUN_SECONDS": 100, "BOGUS": 1})
    cfg = r.json()
    assert cfg["RUN_SECONDS"] == 100 and "BOGUS" not in cfg and "API_KEY" not in cfg
    assert set(cfg) >= {
        "QUEUE_SECONDS",
        "FAILURE_RATE",
        "EXPIRE_SECONDS",
        "STATUS_LATENCY_MS",
        "POLL_AFTER_MS",
    }
    assert requests.get(f"{simsrv.url}/_sim/config").json()["RUN_SECONDS"] == 100
    vid = call(simsrv, "openai").json()["id"]
    requests.post(f"{simsrv.url}/_sim/advance", json={"seconds": 200})
    assert requests.get(f"{simsrv.url}/v1/videos/{vid}", headers=OPENAI).json()["progress"] == 100
    simsrv.add_faults([{"kind": "500"}])
    requests.post(f"{simsrv.url}/_sim/reset")
    stats = simsrv.stats()
    assert stats == {
        "jobs": 0,
        "created_total": 0,
        "created_by_key": {},
        "requests": {},
        "arrivals": [],
    }
    assert simsrv.state.config["RUN_SECONDS"] == 4  # back to the constructor's config
    assert requests.get(f"{simsrv.url}/_sim/faults").json()["queued"] == 0
    assert requests.get(f"{simsrv.url}/v1/videos/{vid}", headers=OPENAI).status_code == 404


def test_status_latency(simsrv):
    vid = call(simsrv, "openai").json()["id"]
    simsrv.set_config(STATUS_LATENCY_MS=300)
    t = time.monotonic()
    requests.get(f"{simsrv.url}/v1/videos/{vid}", headers=OPENAI)
    assert time.monotonic() - t >= 0.3


def test_concurrent_status_reads_all_answer(simsrv):
    """Many concurrent reads, all answered and counted (speed is measured in bench/)."""
    ids = [call(simsrv, "openai").json()["id"] for _ in range(20)]
    urls = [f"{simsrv.url}/v1/videos/{i}" for i in ids] * 20
    local = threading.local()

    def get(url):
        local.session = getattr(local, "session", None) or requests.Session()
        return local.session.get(url, headers=OPENAI, timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(get, urls))
    assert codes == [200] * len(urls)
    assert simsrv.stats()["requests"]["status"] == len(urls)


def test_server_helpers_and_context_manager():
    with SimulatorServer({"API_KEY": "k2", "QUEUE_SECONDS": 0}) as sim:
        assert sim.url.startswith("http://127.0.0.1:") and sim.app is not None
        assert sim.state.config["API_KEY"] == "k2"
        assert requests.get(sim.url + "/_sim/stats").json()["jobs"] == 0
        assert requests.get(sim.url + "/").json()["simulator"] == "reelay"


def test_create_app_defaults_to_env_key(monkeypatch):
    monkeypatch.setenv("REELAY_SIM_KEY", "from-env")
    client = create_app().test_client()
    r = client.post("/v1/videos", json={"prompt": "x"}, headers={"Authorization": "from-env"})
    assert r.status_code == 200
    monkeypatch.delenv("REELAY_SIM_KEY")
    client = create_app().test_client()
    r = client.post("/v1/videos", json={"prompt": "x"}, headers={"Authorization": "Bearer sim-key"})
    assert r.status_code == 200


def test_python_dash_m_entry_point():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.simulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                r = requests.get(f"http://127.0.0.1:{port}/_sim/stats", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert r.json()["jobs"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
