"""Run the simulator in a background thread (tests, screenshots, benchmarks)."""

from __future__ import annotations

import threading

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from . import create_app


class _QuietHandler(WSGIRequestHandler):
    """No access log: benchmarks push thousands of requests a second through it."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class SimulatorServer:
    """``with SimulatorServer({"RUN_SECONDS": 1}) as sim: requests.get(sim.url + ...)``"""

    def __init__(self, config: dict | None = None, host: str = "127.0.0.1", port: int = 0):
        self.app = create_app(config)
        self.state = self.app.extensions["sim_state"]
        self._server = make_server(
            host, port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> SimulatorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # control helpers (in-process: no HTTP round trip)
    def reset(self) -> None:
        self.state.reset()

    def set_config(self, **kw) -> None:
        self.state.update_config(kw)

    def add_faults(self, faults: list[dict]) -> None:
        self.state.add_faults(faults)

    def stats(self) -> dict:
        return self.state.stats()

    def ledger(self) -> list[dict]:
        return self.state.ledger()

    def advance(self, seconds: float) -> None:
        self.state.advance(seconds)

    def expire(self, job_id: str) -> None:
        self.state.expire(job_id)

    def get(self, path: str, **kw):
        return requests.get(self.url + path, timeout=10, **kw)
