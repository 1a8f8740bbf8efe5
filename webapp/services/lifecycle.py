"""One task, one lease, one step at a time: load the facts, let the state machine pick
the step, perform it upstream, decide what it changes, write that under the lease.

``run(lease)`` is the one entry point (poller threads, and inline after a create, a
refresh or a delete). The write is compare-and-set on the lease token and the row's
version: when a user action got in first (a cancel during a slow create, say), the
outcome is decided again on the new facts rather than lost or misapplied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from flask import current_app
from sqlalchemy import select

from ..domain import machine as m
from ..domain.machine import TaskState
from ..domain.routing import Route
from ..extensions import db
from ..models import Provider, TaskEvent, VideoTask
from ..models.base import utcnow
from ..providers import base as pb
from ..providers.registry import build
from . import attempts, catalog, leases, orphans
from . import steps as upstream
from .attempts import AttemptView

log = logging.getLogger(__name__)

MAX_STEPS = 4  # steps chained under one lease (e.g. accepted after a cancel → stop)
MAX_REDECIDE = 3


@dataclass(frozen=True)
class ProviderInfo:
    id: int
    name: str
    key_env: str | None
    config: pb.ProviderConfig
    capabilities: frozenset

    @property
    def key_missing(self) -> bool:
        """Its key variable is named but not set in this process's environment."""
        return bool(self.key_env) and not self.config.api_key

    def adapter(self, timeout: float | None = None):
        cfg = self.config
        if timeout is not None:
            cfg = replace(
                cfg,
                connect_timeout=min(cfg.connect_timeout, timeout),
                read_timeout=min(cfg.read_timeout, timeout),
            )
        return build(cfg, catalog.http_session())


@dataclass
class Snapshot:
    """What a step needs to know about a task, detached from the session."""

    task_id: int
    video_id: str
    version: int
    state: TaskState
    provider: ProviderInfo | None
    external_id: str | None
    handles: dict
    archived: dict
    data: dict
    attempt: AttemptView | None
    attempts: int
    upstream_model: str
    prompt: str
    size: str | None
    aspect_ratio: str | None
    options: dict
    reference_image_key: str | None
    remix_of_id: int | None


def _provider_info(p: Provider | None) -> ProviderInfo | None:
    if p is None:
        return None
    return ProviderInfo(
        p.id,
        p.name,
        p.key_env,
        catalog.config_for(p),
        catalog.capabilities(p),
    )


def _snapshot(t: VideoTask, provider: ProviderInfo | None, attempt: AttemptView | None) -> Snapshot:
    data = dict(t.upstream_data or {})
    price = float(t.provider.price_per_second or 0) if t.provider is not None else 0.0
    state = TaskState(
        status=t.status,
        created_at=t.created_at,
        deadline_at=t.deadline_at,
        pending=t.pending_action,
        has_external=bool(t.external_task_id),
        attempt=attempt.state if attempt else None,
        error_streak=t.error_streak or 0,
        progress=t.progress or 0,
        poll_count=t.poll_count or 0,
        media_type=t.media_type,
        seconds=t.seconds,
        price_per_second=price,
        last_error=t.error_message,
        route=Route.from_json(data["route"]) if data.get("route") else None,
    )
    return Snapshot(
        task_id=t.id,
        video_id=t.video_id,
        version=t.version,
        state=state,
        provider=provider,
        external_id=t.external_task_id,
        handles=dict(data.get("handles") or {}),
        archived=dict(t.archive or {}),
        data=data,
        attempt=attempt,
        attempts=t.attempts or 0,
        upstream_model=t.upstream_model or t.model,
        prompt=t.prompt,
        size=t.size,
        aspect_ratio=t.aspect_ratio,
        options={k: v for k, v in (t.options or {}).items() if k in catalog.EXTRA_OPTIONS},
        reference_image_key=t.reference_image_key,
        remix_of_id=t.remix_of_id,
    )


def load_many(held: list[leases.Lease]) -> dict[int, Snapshot]:
    """Snapshots of the tasks these leases hold (one query for the tasks, one for the
    attempts of those that need them); a task whose lease moved on is left out."""
    if not held:
        return {}
    tokens = {lease.task_id: lease.token for lease in held}
    rows = db.session.scalars(select(VideoTask).where(VideoTask.id.in_(list(tokens)))).all()
    rows = [t for t in rows if t.lease_token == tokens[t.id]]
    need = [t.id for t in rows if not t.external_task_id and t.attempts]
    latest = attempts.latest_many(need)
    infos: dict[int, ProviderInfo | None] = {}
    out = {}
    for t in rows:
        if t.provider_id not in infos:
            infos[t.provider_id] = _provider_info(t.provider)
        out[t.id] = _snapshot(t, infos[t.provider_id], latest.get(t.id))
    db.session.commit()
    return out


def load(lease: leases.Lease) -> Snapshot | None:
    return load_many([lease]).get(lease.task_id)


def run(lease: leases.Lease, snap: Snapshot | None = None, store=None) -> None:
    """Take the task as far as it can go now, then give the lease back."""
    from . import archive

    store = store or archive.store()
    released = False
    try:
        for _ in range(MAX_STEPS):
            snap = snap or load(lease)
            if snap is None:
                return
            action = m.next_action(snap.state, utcnow())
            if action is m.Action.NONE:
                return
            outcome = upstream.perform(action, snap, lease, store)
            if outcome is None:  # the task changed under us before anything was sent
                snap = None
                continue
            then, released = persist(lease, snap, outcome)
            if then is None:
                return
            snap = None
    except Exception:  # noqa: BLE001 - logged; the lease runs out and the task is retried
        db.session.rollback()
        log.exception("task step failed (task id %s)", lease.task_id)
    finally:
        if not released:
            leases.release(lease)


def persist(
    lease: leases.Lease, snap: Snapshot, outcome: m.Outcome
) -> tuple[m.Action | None, bool]:
    """Decide and write (compare-and-set), deciding again if the row changed meanwhile.
    Returns (the step to run next, whether the lease was released)."""
    for _ in range(MAX_REDECIDE):
        now = utcnow()
        t = m.decide(snap.state, outcome, now, policy())
        values = dict(t.values)
        if t.data:
            values["upstream_data"] = {**snap.data, **t.data}
        release = t.then is None
        if leases.write(lease, snap.version, values, release=release):
            if t.event:
                kind, message = t.event
                changed = t.status is not None and t.status != snap.state.status
                db.session.add(
                    TaskEvent(
                        task_id=snap.task_id,
                        kind=kind,
                        from_status=snap.state.status if changed else None,
                        to_status=t.status if changed else None,
                        message=(message or "")[:500],
                    )
                )
            if t.attempt == m.LOST:
                attempts.give_up(snap.task_id)
            db.session.commit()
            return t.then, release
        db.session.rollback()
        snap = load(lease)
        if snap is None:
            _task_gone(outcome)
            return None, False
    log.warning("task %s kept changing; giving the step up for now", lease.task_id)
    return None, False


def policy() -> m.Policy:
    cfg = current_app.config
    return m.Policy(
        reconcile_delays=tuple(cfg["RECONCILE_DELAYS"]),
        retry_base=cfg["RETRY_BASE_SECONDS"],
        submit_window=cfg["SUBMIT_WINDOW_SECONDS"],
    )


def _task_gone(outcome: m.Outcome) -> None:
    """The row was deleted (or taken over) while the step ran: a job the step learned
    about is nobody's now, so stop it upstream straight away."""
    if outcome.kind is m.Kind.ACCEPTED and outcome.attempt_id:
        orphans.clean_now([outcome.attempt_id])
