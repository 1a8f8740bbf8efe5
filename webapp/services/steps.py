"""The upstream steps of a task's life: submit, reconcile, poll, refresh, stop.

Each step talks to the provider through its adapter (never holding a database
transaction open meanwhile) and reports what it found as a ``machine.Outcome``; the
lifecycle decides and writes. A step starts no upstream call without a live lease, and
gives every call a timeout that ends before the lease does. Submitting follows the
durable protocol in ``attempts``: the attempt is committed before the create goes out,
and its answer is recorded on it the moment it arrives.
"""

from __future__ import annotations

import logging

from ..domain import machine as m
from ..domain.machine import Kind, Outcome
from ..domain.reconcile import CLOCK_SKEW, JobKey, choose
from ..extensions import db
from ..models import VideoTask
from ..providers import base as pb
from ..storage import verify
from . import archive, attempts, health, leases

log = logging.getLogger(__name__)

NOT_CONFIRMED = (
    "The provider did not confirm the submission and cannot be asked about it; it was not "
    "resent, to avoid a duplicate job. Please try again."
)
FORGOTTEN = (
    "The provider no longer has the original video, so it cannot remix it. Use the "
    "original as a new task instead (its prompt and settings are kept)."
)
SEVERAL = (
    "The provider did not confirm the submission and several of its jobs could be it, "
    "so Reelay adopted none and resent nothing. Please try again."
)


def perform(action: m.Action, snap, lease, store) -> Outcome | None:
    """Run one step. None means the task changed under us (lease lost or a user action
    got in first): nothing was sent, look again."""
    if action is m.Action.EXPIRE:
        return Outcome(Kind.DEADLINE)
    if action is m.Action.CLEAR:
        if snap.state.pending == m.CANCEL:
            return Outcome(Kind.STOPPED, note="Cancelled before it reached the provider.")
        return Outcome(Kind.UNKNOWN_JOB)
    if snap.provider is None:
        return Outcome(Kind.PROVIDER_GONE)
    step = _STEPS[action]
    try:
        return step(snap, lease, store)
    except archive.LeaseLost:
        return None
    except Exception:  # noqa: BLE001 - one bad task must never stop the sweep
        log.exception("unexpected error on task %s (%s)", snap.video_id, action.value)
        if action is m.Action.SUBMIT:
            raise  # the attempt stays "sending" and is reconciled: never guess here
        return Outcome(Kind.POLL_ERROR, code="internal_error", message="unexpected error")


def _adapter(snap, lease):
    """The adapter with timeouts that end before the lease (and the deadline) do;
    None when the lease is gone."""
    cfg = snap.provider.config
    if not leases.keep(lease, cfg.connect_timeout + cfg.read_timeout):
        return None
    timeout = leases.timeout(lease, cfg.read_timeout, snap.state.deadline_at)
    if timeout < leases.MIN_CALL_SECONDS:
        return None
    return snap.provider.adapter(timeout), timeout


# ---- submit ---------------------------------------------------------------------------


def _job(snap) -> pb.Job:
    image, mime = archive.load_reference(snap.reference_image_key)
    return pb.Job(
        model=snap.upstream_model,
        prompt=snap.prompt,
        media_type=snap.state.media_type,
        size=snap.size,
        seconds=snap.state.seconds,
        aspect_ratio=snap.aspect_ratio,
        reference_image=image,
        reference_mime=mime,
        options=snap.options,
        client_ref=snap.video_id,
    )


def _remix_source(snap) -> tuple[str | None, dict]:
    if not snap.remix_of_id:
        return None, {}
    source = db.session.get(VideoTask, snap.remix_of_id)
    db.session.commit()
    if source is None or not source.external_task_id:
        return None, {}
    return source.external_task_id, dict((source.upstream_data or {}).get("handles") or {})


def _not_admitted(snap) -> Outcome | None:
    """A definite refusal before anything is sent: the key is not set here (the open
    circuit is checked later, once the probe may be claimed). Both move the task on."""
    if snap.provider.key_missing:
        return Outcome(
            Kind.REFUSED,
            code="key_missing",
            message="its API key is not set on this server",
            lasting=True,
        )
    return None


def submit(snap, lease, store) -> Outcome | None:
    refused = _not_admitted(snap)
    if refused is not None:
        return refused
    got = _adapter(snap, lease)
    if got is None:
        return None
    adapter, timeout = got
    job = _job(snap)
    remix_of, remix_handles = _remix_source(snap)
    if snap.remix_of_id and remix_of is None:
        return Outcome(
            Kind.REJECTED, code="remix_source_gone", message="The video to remix is gone."
        )
    allowed, probe = health.admit(snap.provider.id)
    if not allowed:
        return Outcome(
            Kind.REFUSED, code="circuit_open", message=health.open_reason(snap.provider.id)
        )
    begun = attempts.begin(
        lease, snap.version, snap.attempts + 1, snap.provider.id, job, remix_of, timeout
    )
    if begun is None:
        return None
    attempt_id, snap.version = begun
    try:
        with health.observe(snap.provider.id, health.SUBMIT, probe):
            if remix_of:
                submitted = adapter.remix(remix_of, remix_handles, job)
            else:
                submitted = adapter.submit(job)
    except pb.AmbiguousError as exc:
        attempts.settle(attempt_id, m.UNKNOWN, exc.code)
        return Outcome(Kind.UNCONFIRMED, code=exc.code, message=exc.message, attempt_id=attempt_id)
    except pb.TransientError as exc:
        attempts.settle(attempt_id, m.REFUSED, exc.code)
        return Outcome(
            Kind.REFUSED, code=exc.code, message=exc.message, retry_after=exc.retry_after
        )
    except pb.AuthError:
        attempts.settle(attempt_id, m.REFUSED, "upstream_auth")
        return Outcome(
            Kind.REFUSED,
            code="upstream_auth",
            message="The provider refused Reelay's API key; an admin needs to check the provider settings.",
            lasting=True,
        )
    except pb.NotFound as exc:
        attempts.settle(attempt_id, m.REFUSED, exc.code)
        if not remix_of:
            return Outcome(Kind.REJECTED, code=exc.code, message=exc.message)
        return Outcome(Kind.REJECTED, code="remix_source_forgotten", message=FORGOTTEN)
    except pb.PermanentError as exc:
        attempts.settle(attempt_id, m.REFUSED, exc.code)
        return Outcome(Kind.REJECTED, code=exc.code, message=exc.message)
    except pb.ProviderError as exc:
        attempts.settle(attempt_id, m.UNKNOWN, exc.code)
        return Outcome(Kind.UNCONFIRMED, code=exc.code, message=exc.message, attempt_id=attempt_id)
    return _answered(snap, lease, store, adapter, attempt_id, submitted)


def _answered(snap, lease, store, adapter, attempt_id, submitted: pb.Submitted) -> Outcome:
    if not attempts.answered(attempt_id, submitted.external_id, submitted.handles):
        # The provider named a job another attempt already recorded: never take it.
        return Outcome(
            Kind.REJECTED,
            code="upstream_duplicate_id",
            message="The provider answered with a job that belongs to another task.",
        )
    status = submitted.status
    base = dict(
        kind=Kind.ACCEPTED,
        external_id=submitted.external_id,
        handles=submitted.handles,
        progress=status.progress,
        poll_after=status.poll_after,
        expires_at=status.expires_at,
        attempt_id=attempt_id,
    )
    if submitted.inline_results:
        try:
            base["archived"] = archive.store_inline(store, snap.video_id, submitted.inline_results)
        except verify.InvalidMedia as exc:
            return Outcome(**{**base, "kind": Kind.ACCEPTED, "note": f"Accepted; {exc}."})
    return Outcome(**base)


# ---- reconcile --------------------------------------------------------------------------


def reconcile(snap, lease, store) -> Outcome | None:
    """Find the job an unconfirmed create made, or say it cannot be found; never resend."""
    attempt = snap.attempt
    if attempt.state == m.SENDING:
        attempts.mark_unknown(attempt.id)  # its holder is gone (the lease ran out)
    fresh = attempts.latest(snap.task_id)
    db.session.commit()
    if fresh is not None and fresh.external_id:
        return Outcome(
            Kind.ACCEPTED,
            external_id=fresh.external_id,
            note=f"The provider's answer arrived late: tracking job {fresh.external_id}.",
        )
    if pb.CAP_LIST not in snap.provider.capabilities:
        return Outcome(Kind.UNRESOLVABLE, message=NOT_CONFIRMED)
    got = _adapter(snap, lease)
    if got is None:
        return None
    adapter, _ = got
    try:
        listed = adapter.list_jobs(attempt.started_at - CLOCK_SKEW)
    except pb.TransientError as exc:
        return Outcome(Kind.NOT_FOUND_YET, retry_after=exc.retry_after)
    except pb.ProviderError:
        return Outcome(Kind.UNRESOLVABLE, message=NOT_CONFIRMED)
    return _choose(snap, attempt, listed)


def _choose(snap, attempt, listed: list[pb.Listed]) -> Outcome:
    jobs = [JobKey(j.external_id, j.created_at, j.echo) for j in listed]
    known = attempts.known(snap.provider.id, [j.external_id for j in jobs])
    # Read after listing: any attempt that could have made a listed job was committed
    # before its create went out, so it is seen here.
    others, _ = attempts.unresolved(snap.provider.id, attempt.started_at - 2 * CLOCK_SKEW)
    db.session.commit()
    choice = choose(attempt.key, jobs, others, known)
    if choice.reason in ("several", "shared"):
        return Outcome(Kind.UNRESOLVABLE, message=SEVERAL)
    if choice.job is None:
        return Outcome(Kind.NOT_FOUND_YET)
    found = next(j for j in listed if j.external_id == choice.job.external_id)
    if not attempts.adopt(attempt.id, found.external_id, found.handles):
        return Outcome(Kind.NOT_FOUND_YET)
    return Outcome(
        Kind.ACCEPTED,
        external_id=found.external_id,
        handles=found.handles,
        progress=found.status.progress,
        note=f"Found the job the provider had accepted before the answer was lost ({found.external_id}).",
    )


# ---- poll and refresh -----------------------------------------------------------------


def _look(snap, lease) -> tuple[object, pb.UpstreamStatus | Outcome] | None:
    got = _adapter(snap, lease)
    if got is None:
        return None
    adapter, _ = got
    try:
        with health.observe(snap.provider.id, health.STATUS):
            return adapter, adapter.status(snap.external_id, snap.handles)
    except pb.NotFound:
        return adapter, Outcome(Kind.UNKNOWN_JOB)
    except pb.ProviderError as exc:
        return adapter, Outcome(
            Kind.POLL_ERROR,
            code=exc.code,
            message=exc.message,
            retry_after=getattr(exc, "retry_after", None),
        )


def poll(snap, lease, store) -> Outcome | None:
    looked = _look(snap, lease)
    if looked is None:
        return None
    adapter, status = looked
    if isinstance(status, Outcome):
        return status
    if status.state == pb.COMPLETED:
        return _archive(snap, lease, store, adapter, status, already={})
    if status.state == pb.FAILED:
        return Outcome(Kind.GENERATION_FAILED, code=status.error_code, message=status.error_message)
    if status.state == pb.CANCELLED:
        return Outcome(Kind.CANCELLED_UPSTREAM)
    return Outcome(
        Kind.RUNNING,
        progress=status.progress,
        poll_after=status.poll_after,
        expires_at=status.expires_at,
    )


def refresh(snap, lease, store) -> Outcome | None:
    """Re-check a finished job; re-download whatever the archive is missing (or holds
    unverified), so a broken archive is repaired."""
    looked = _look(snap, lease)
    if looked is None:
        return None
    adapter, status = looked
    if isinstance(status, Outcome):
        return status
    if status.state != pb.COMPLETED:
        return Outcome(
            Kind.RUNNING if status.state in (pb.QUEUED, pb.IN_PROGRESS) else Kind.UNKNOWN_JOB
        )
    return _archive(snap, lease, store, adapter, status, already=snap.archived)


def _archive(snap, lease, store, adapter, status, already: dict) -> Outcome:
    cfg = snap.provider.config
    try:
        archived = archive.archive_task(
            store,
            adapter,
            snap.video_id,
            snap.external_id,
            snap.handles,
            snap.state.media_type,
            snap.provider.capabilities,
            already=already,
            keepalive=lambda: leases.keep(lease, cfg.read_timeout),
        )
    except pb.ContentExpired:
        return Outcome(Kind.CONTENT_GONE)
    except pb.ProviderError as exc:
        return Outcome(
            Kind.ARCHIVE_FAILED,
            code="archive_failed",
            message=exc.message,
            retry_after=getattr(exc, "retry_after", None),
        )
    except verify.InvalidMedia as exc:
        return Outcome(Kind.ARCHIVE_FAILED, code="invalid_content", message=str(exc))
    renewed = any(already.get(v) != e for v, e in archived.items())
    note = None
    if already:
        note = "Link refreshed" + (" and the result re-archived." if renewed else ".")
    return Outcome(
        Kind.SUCCEEDED,
        archived=archived if (renewed or not already) else None,
        expires_at=status.expires_at,
        note=note,
        cost=status.cost,
    )


# ---- stop -----------------------------------------------------------------------------


def stop(snap, lease, store) -> Outcome | None:
    got = _adapter(snap, lease)
    if got is None:
        return None
    adapter, _ = got
    return stop_job(adapter, snap.provider.capabilities, snap.external_id, snap.handles)


def stop_job(
    adapter, capabilities, external_id: str, handles: dict, delete: bool = False
) -> Outcome:
    """Cancel a job upstream (and delete it, when asked and the protocol can)."""
    try:
        if delete and pb.CAP_DELETE in capabilities:
            adapter.delete(external_id, handles)
            return Outcome(Kind.STOPPED, note="Deleted at the provider.")
        if pb.CAP_CANCEL in capabilities:
            adapter.cancel(external_id, handles)
            return Outcome(Kind.STOPPED, note="Cancelled at the provider too.")
        if pb.CAP_DELETE in capabilities:
            adapter.delete(external_id, handles)
            return Outcome(Kind.STOPPED, note="Deleted at the provider.")
    except pb.NotFound:
        return Outcome(Kind.STOPPED, note="The provider no longer had the job.")
    except pb.TransientError as exc:
        return Outcome(Kind.STOP_ERROR, message=exc.message, retry_after=exc.retry_after)
    except pb.ProviderError as exc:
        return Outcome(
            Kind.STOP_IMPOSSIBLE, note=f"The provider did not stop the job ({exc.message})."
        )
    return Outcome(Kind.STOP_IMPOSSIBLE)


_STEPS = {
    m.Action.SUBMIT: submit,
    m.Action.RECONCILE: reconcile,
    m.Action.POLL: poll,
    m.Action.REFRESH: refresh,
    m.Action.STOP: stop,
}
