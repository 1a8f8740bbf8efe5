"""The simulator's in-memory world: jobs advancing on a (skippable) clock, counters,
configuration and queued faults. One lock; status reads are a dict lookup."""

from __future__ import annotations

import collections
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

DEFAULTS = {
    "API_KEY": None,  # filled from REELAY_SIM_KEY, else "sim-key"
    "QUEUE_SECONDS": 2.0,  # time queued before running ([slow] prompts: x5)
    "RUN_SECONDS": 10.0,  # time running; progress rises linearly
    "FAILURE_RATE": 0.0,  # 0..1 chance a new job fails (internal-error style)
    "EXPIRE_SECONDS": 3600.0,  # after completion, content/URLs are gone
    "STATUS_LATENCY_MS": 0,  # sleep on each status read (benchmarks)
    "POLL_AFTER_MS": None,  # OpenAI ``openai-poll-after-ms`` header when set
    "REPLICATE_DATA_OUTPUTS": False,  # Replicate outputs as data: URLs (the client's FileOutput)
}


@dataclass
class Job:
    id: str
    protocol: str  # openai | fal | replicate | gemini
    model: str
    prompt: str
    size: str
    seconds: int
    created: float
    queue_s: float
    run_s: float
    fail: bool = False
    fail_kind: str = "policy"  # policy ("[fail]": content filter) | error (FAILURE_RATE)
    media: str = "video"  # video | image
    remixed_from: str | None = None
    cancelled_at: float | None = None
    expired: bool = False
    deleted: bool = False
    extra: dict = field(default_factory=dict)  # protocol-specific echoes (inputs, fal app)
    client_ref: str | None = None  # the Idempotency-Key of the create that made it
    seq: int = 0  # which create request (1, 2, …) made it
    stop_requested: bool = False  # a cancel or delete was asked for, in any phase

    def phase(self, now: float) -> tuple[str, int]:
        """(state, progress) with state in queued | in_progress | completed | failed | cancelled."""
        if self.cancelled_at is not None:
            return "cancelled", 0
        t = now - self.created
        if t < self.queue_s:
            return "queued", 0
        if t < self.queue_s + self.run_s:
            return "in_progress", min(99, int((t - self.queue_s) / self.run_s * 100))
        return ("failed", 100) if self.fail else ("completed", 100)

    @property
    def done_at(self) -> float:
        return self.created + self.queue_s + self.run_s


class State:
    def __init__(self, config: dict | None = None):
        self.lock = threading.Lock()
        initial = dict(DEFAULTS)
        initial["API_KEY"] = os.environ.get("REELAY_SIM_KEY") or "sim-key"
        initial.update(config or {})
        self._initial = initial
        self.reset()

    def reset(self) -> None:
        """Back to how it started: no jobs, counters or faults, clock offset 0, and the
        configuration given at construction (runtime ``/_sim/config`` changes undone, so
        one test's FAILURE_RATE cannot leak into the next)."""
        with self.lock:
            self.jobs: dict[str, Job] = {}
            self.order: list[str] = []
            self.offset = 0.0
            self.faults: list[dict] = []
            self.created_by_key: dict[str, int] = {}
            self.requests: dict[str, int] = {}
            # Wall-clock arrival of every protocol request (the last 20,000), so tests
            # can count what any one second saw (the shared rate limit).
            self.arrivals: collections.deque = collections.deque(maxlen=20000)
            self.seq = 0
            self.config = dict(self._initial)

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += float(seconds)

    def count(self, op: str) -> None:
        with self.lock:
            self.requests[op] = self.requests.get(op, 0) + 1
            self.arrivals.append(time.time())

    def add_faults(self, faults) -> int:
        with self.lock:
            self.faults.extend(dict(f) for f in faults if isinstance(f, dict))
            return len(self.faults)

    def update_config(self, values: dict) -> dict:
        """Merge known keys (unknown ones are ignored so typos show up in the GET)."""
        with self.lock:
            self.config.update({k: v for k, v in values.items() if k in DEFAULTS})
            return dict(self.config)

    def take_fault(self, op: str, protocol: str) -> dict | None:
        """Pop the first queued fault matching (op, protocol). ``delete`` also matches
        ``cancel`` faults (it is OpenAI's only way to stop a job); ``drop_after_create``
        only ever matches the ops that create a job."""
        ops = (op, "any", "cancel") if op == "delete" else (op, "any")
        with self.lock:
            for i, f in enumerate(self.faults):
                if f.get("kind") == "drop_after_create" and op not in ("create", "remix"):
                    continue
                if f.get("op", "any") in ops and f.get("protocol", "any") in (protocol, "any"):
                    f["count"] = int(f.get("count", 1)) - 1
                    if f["count"] <= 0:
                        self.faults.pop(i)
                    return dict(f)
        return None

    def create(
        self,
        protocol: str,
        model: str,
        prompt: str,
        size: str,
        seconds: int,
        key: str | None,
        media: str = "video",
        remixed_from: str | None = None,
        job_id: str | None = None,
    ) -> Job:
        cfg = self.config
        slow = 5 if "[slow]" in prompt else 1
        policy = "[fail]" in prompt
        fail = policy or random.random() < float(cfg["FAILURE_RATE"] or 0)
        job = Job(
            id=job_id or _new_id(protocol),
            protocol=protocol,
            model=model,
            prompt=prompt,
            size=size,
            seconds=seconds,
            created=self.now(),
            queue_s=float(cfg["QUEUE_SECONDS"]) * slow,
            run_s=max(float(cfg["RUN_SECONDS"]) * slow, 0.001),
            fail=fail,
            fail_kind="policy" if policy else "error",
            media=media,
            remixed_from=remixed_from,
            client_ref=key,
        )
        with self.lock:
            self.seq += 1
            job.seq = self.seq
            self.jobs[job.id] = job
            self.order.append(job.id)
            counter_key = key or prompt
            self.created_by_key[counter_key] = self.created_by_key.get(counter_key, 0) + 1
        return job

    def cancel(self, job: Job) -> bool:
        """Stop a queued/running job; False when it had already finished."""
        with self.lock:
            job.stop_requested = True
            if job.phase(self.now())[0] not in ("queued", "in_progress"):
                return False
            job.cancelled_at = self.now()
            return True

    def expire(self, job_id: str) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None:
                job.expired = True
            return job is not None

    def ids(self, protocol: str) -> list[str]:
        """Live job ids of one protocol, oldest first."""
        with self.lock:
            return [
                i
                for i in self.order
                if self.jobs[i].protocol == protocol and not self.jobs[i].deleted
            ]

    def get(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        return None if job is None or job.deleted else job

    def is_expired(self, job: Job) -> bool:
        return job.expired or self.now() > job.done_at + float(self.config["EXPIRE_SECONDS"])

    def ledger(self) -> list[dict]:
        """Every job ever created, with the create request that made it (never
        deduplicated): tests attribute each upstream job to exactly one client ref."""
        with self.lock:
            return [
                {
                    "id": j.id,
                    "protocol": j.protocol,
                    "client_ref": j.client_ref,
                    "seq": j.seq,
                    "prompt": j.prompt,
                    "created": j.created,
                    "cancelled": j.cancelled_at is not None,
                    "deleted": j.deleted,
                    "stop_requested": j.stop_requested,
                }
                for j in (self.jobs[i] for i in self.order)
            ]

    def stats(self) -> dict:
        with self.lock:
            return {
                "jobs": len(self.jobs),
                "created_total": sum(self.created_by_key.values()),
                "created_by_key": dict(self.created_by_key),
                "requests": dict(self.requests),
                "arrivals": list(self.arrivals),
            }


def _new_id(protocol: str) -> str:
    if protocol == "openai":
        return "video_" + uuid.uuid4().hex
    if protocol == "openrouter":
        alnum = uuid.uuid4().hex[:20]
        return f"gen-vid-{int(time.time())}-{alnum}"
    if protocol == "replicate":
        return uuid.uuid4().hex[:26]
    if protocol == "gemini":
        return uuid.uuid4().hex[:12]
    return str(uuid.uuid4())
