"""Each adapter end to end against Reelay's built-in simulator (``webapp/simulator``):
submit -> poll until completed -> stream a real MP4, plus failures and faults over a real
socket. The simulator's clock is skipped forward, so nothing sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.reconcile_support import listed_matching
from webapp.providers import base as pb
from webapp.providers.base import Job, ProviderConfig
from webapp.providers.http import make_session, utcnow
from webapp.providers.registry import build

try:
    from webapp.simulator.server import SimulatorServer
except Exception as exc:  # noqa: BLE001 - any import problem means "no simulator here"
    pytest.skip(
        f"webapp.simulator.server is not importable ({exc.__class__.__name__}: {exc})",
        allow_module_level=True,
    )

SIM_KEY = "sim-key"


@pytest.fixture(scope="module")
def simulator():
    server = SimulatorServer({"API_KEY": SIM_KEY}).start()
    yield server
    server.stop()


@pytest.fixture
def sim(simulator):
    simulator.reset()
    yield simulator
    simulator.reset()


def adapter(sim, kind, path="", prefix="/v1", **kw):
    cfg = ProviderConfig(
        kind=kind,
        base_url=sim.url + path,
        path_prefix=prefix,
        api_key=kw.pop("api_key", SIM_KEY),
        connect_timeout=2,
        read_timeout=5,
        networks="loopback",  # the simulator listens on 127.0.0.1
        **kw,
    )
    return build(cfg, make_session(4))


def openai(sim, **kw):
    return adapter(sim, "openai", **kw)


def fal(sim):
    return adapter(sim, "fal", "/fal", "")


def replicate(sim):
    return adapter(sim, "replicate")


def gemini(sim):
    return adapter(sim, "gemini", prefix="/v1beta")


VIDEO_JOBS = {
    "openai": Job(model="sora-2", prompt="a fox in snow", seconds=4, size="1280x720"),
    "fal": Job(
        model="fal-ai/kling-video/v2.5-turbo/standard/text-to-video",
        prompt="a fox in snow",
        seconds=5,
        aspect_ratio="16:9",
    ),
    "replicate": Job(model="google/veo-3.1", prompt="a fox in snow", seconds=4),
    "gemini": Job(model="veo-3.1-generate-preview", prompt="a fox in snow", seconds=8),
}
MAKERS = {"openai": openai, "fal": fal, "replicate": replicate, "gemini": gemini}


def poll_until_done(sim, provider, submitted, step=4.0, limit=30):
    states = []
    for _ in range(limit):
        status = provider.status(submitted.external_id, submitted.handles)
        states.append(status.state)
        if status.state in (pb.COMPLETED, pb.FAILED, pb.CANCELLED):
            return status, states
        sim.advance(step)
    raise AssertionError(f"never finished: {states}")


def read_all(download: pb.Download) -> bytes:
    try:
        return b"".join(download.chunks)
    finally:
        download.release()


@pytest.mark.parametrize("kind", list(VIDEO_JOBS))
def test_submit_poll_download_real_mp4(sim, kind):
    provider = MAKERS[kind](sim)
    submitted = provider.submit(VIDEO_JOBS[kind])
    assert submitted.external_id
    status, states = poll_until_done(sim, provider, submitted)
    assert status.state == pb.COMPLETED, status
    assert status.progress == 100
    assert pb.IN_PROGRESS in states or pb.QUEUED in states
    data = read_all(provider.download(submitted.external_id, submitted.handles))
    assert data[4:8] == b"ftyp", data[:16]
    assert len(data) > 1000


def test_openai_variants_and_raw_key_relay(sim):
    provider = openai(sim, prefix="/v1", auth_style="bearer")
    submitted = provider.submit(VIDEO_JOBS["openai"])
    status, _ = poll_until_done(sim, provider, submitted)
    assert status.state == pb.COMPLETED
    assert status.expires_at is not None and status.expires_at > utcnow()
    for variant in ("thumbnail", "spritesheet"):
        download = provider.download(submitted.external_id, {}, variant)
        assert download.content_type.startswith("image/")
        assert read_all(download)
    relay = openai(sim, prefix="/sora/v1", auth_style="raw", extra={"profile": "relay"})
    assert pb.CAP_THUMBNAIL not in relay.capabilities and pb.CAP_LIST not in relay.capabilities
    job = Job(**{**VIDEO_JOBS["openai"].__dict__, "seconds": 10})
    submitted = relay.submit(job)
    status, _ = poll_until_done(sim, relay, submitted)
    assert status.state == pb.COMPLETED


def test_new_api_profile_not_found_is_not_found(sim):
    provider = openai(sim, prefix="/newapi/v1", extra={"profile": "newapi"})
    assert provider.capabilities == {pb.CAP_REMIX, pb.CAP_IMAGE_INPUT}
    submitted = provider.submit(VIDEO_JOBS["openai"])
    assert submitted.external_id.startswith("task_")
    status, _ = poll_until_done(sim, provider, submitted)
    assert status.state == pb.COMPLETED
    with pytest.raises(pb.NotFound):
        provider.status("task_unknown", {})
    with pytest.raises(pb.NotFound):
        provider.remix("task_unknown", {}, Job(model="sora-2", prompt="again"))


def test_litellm_profile_ids_round_trip(sim):
    provider = openai(sim, prefix="/litellm/v1", extra={"profile": "litellm"})
    assert pb.CAP_DELETE not in provider.capabilities and pb.CAP_LIST not in provider.capabilities
    submitted = provider.submit(VIDEO_JOBS["openai"])
    assert "=" in submitted.external_id or len(submitted.external_id) > 60  # base64 wrapper
    status, _ = poll_until_done(sim, provider, submitted)
    assert status.state == pb.COMPLETED
    assert read_all(provider.download(submitted.external_id, {}))[4:8] == b"ftyp"


def test_openai_remix_delete_find_and_check(sim):
    provider = openai(sim)
    job = Job(**{**VIDEO_JOBS["openai"].__dict__, "client_ref": "vid-sim-1"})
    since = utcnow() - timedelta(seconds=5)
    submitted = provider.submit(job)
    found = listed_matching(provider, job, since)
    assert [f.external_id for f in found] == [submitted.external_id]
    poll_until_done(sim, provider, submitted)
    remixed = provider.remix(submitted.external_id, {}, Job(model="sora-2", prompt="at night"))
    assert remixed.external_id != submitted.external_id
    provider.delete(remixed.external_id, {})
    assert provider.check().ok
    bad = openai(sim, api_key="wrong-key").check()
    assert (bad.ok, bad.reachable, bad.authenticated) == (False, True, False)


def test_openai_expired_content(sim):
    provider = openai(sim)
    submitted = provider.submit(VIDEO_JOBS["openai"])
    poll_until_done(sim, provider, submitted)
    sim.expire(submitted.external_id)
    with pytest.raises(pb.ContentExpired):
        provider.download(submitted.external_id, {})


@pytest.mark.parametrize("kind", list(VIDEO_JOBS))
def test_policy_failures_are_failed_with_a_reason(sim, kind):
    provider = MAKERS[kind](sim)
    job = Job(**{**VIDEO_JOBS[kind].__dict__, "prompt": "[fail] something"})
    submitted = provider.submit(job)
    status, _ = poll_until_done(sim, provider, submitted)
    assert status.state == pb.FAILED
    assert status.error_message and len(status.error_message) <= 200


def test_fal_runner_failure_visible_on_result_fetch(sim):
    sim.set_config(FAILURE_RATE=1.0)
    provider = fal(sim)
    submitted = provider.submit(VIDEO_JOBS["fal"])
    status, _ = poll_until_done(sim, provider, submitted)
    assert status.state == pb.FAILED
    assert status.error_code == "runner_disconnected"


def test_fal_cancel(sim):
    provider = fal(sim)
    submitted = provider.submit(VIDEO_JOBS["fal"])
    provider.cancel(submitted.external_id, submitted.handles)
    status, _ = poll_until_done(sim, provider, submitted)
    assert status.state == pb.CANCELLED


def test_replicate_cancel_find_and_expiry(sim):
    provider = replicate(sim)
    job = VIDEO_JOBS["replicate"]
    since = utcnow() - timedelta(seconds=5)
    submitted = provider.submit(job)
    assert [f.external_id for f in listed_matching(provider, job, since)] == [submitted.external_id]
    provider.cancel(submitted.external_id, submitted.handles)
    assert provider.status(submitted.external_id, submitted.handles).state == pb.CANCELLED
    other = provider.submit(job)
    status, _ = poll_until_done(sim, provider, other)
    assert status.expires_at is not None
    sim.expire(other.external_id)
    with pytest.raises(pb.ContentExpired):
        provider.download(other.external_id, other.handles)


def test_gemini_image_is_inline(sim):
    provider = gemini(sim)
    job = Job(model="gemini-3.1-flash-image", prompt="a robot", media_type="IMAGE")
    submitted = provider.submit(job)
    assert submitted.status.state == pb.COMPLETED
    data, mime = submitted.inline_results["image"]
    assert mime == "image/png" and data.startswith(b"\x89PNG")
    assert provider.check().ok


@pytest.mark.parametrize("kind", list(VIDEO_JOBS))
def test_faults_over_a_real_socket(sim, kind):
    provider = MAKERS[kind](sim)
    job = VIDEO_JOBS[kind]
    sim.add_faults([{"op": "create", "kind": "429", "retry_after": 7}])
    with pytest.raises(pb.RateLimited) as info:
        provider.submit(job)
    assert info.value.retry_after == 7
    sim.add_faults([{"op": "create", "kind": "503"}])
    with pytest.raises(pb.TransientError):
        provider.submit(job)
    sim.add_faults([{"op": "create", "kind": "drop_after_create"}])
    with pytest.raises(pb.AmbiguousError):
        provider.submit(job)
    sim.add_faults([{"op": "create", "kind": "malformed"}])
    with pytest.raises(pb.AmbiguousError):
        provider.submit(job)
    submitted = provider.submit(job)
    sim.add_faults([{"op": "status", "kind": "drop"}])
    with pytest.raises(pb.TransientError) as info:
        provider.status(submitted.external_id, submitted.handles)
    assert not isinstance(info.value, pb.AmbiguousError)
    sim.add_faults([{"op": "status", "kind": "malformed"}])
    with pytest.raises(pb.TransientError):
        provider.status(submitted.external_id, submitted.handles)


def test_read_timeout_on_create_is_ambiguous(sim):
    cfg = ProviderConfig(
        kind="openai",
        base_url=sim.url,
        api_key=SIM_KEY,
        connect_timeout=1,
        read_timeout=0.3,
        networks="loopback",
    )
    quick = build(cfg, make_session(2))
    sim.add_faults([{"op": "create", "kind": "slow", "delay": 0.6}])
    with pytest.raises(pb.AmbiguousError):
        quick.submit(VIDEO_JOBS["openai"])
    sim.add_faults([{"op": "status", "kind": "slow", "delay": 0.6}])
    with pytest.raises(pb.TransientError) as info:
        quick.status("video_missing", {})
    assert not isinstance(info.value, pb.AmbiguousError)


@pytest.mark.parametrize(
    ("kind", "path", "prefix"),
    [
        ("openai", "", "/v1"),
        ("fal", "/fal", ""),
        ("replicate", "", "/v1"),
        ("gemini", "", "/v1beta"),
    ],
)
def test_wrong_key_is_auth_error(sim, kind, path, prefix):
    provider = adapter(sim, kind, path, prefix, api_key="nope")
    with pytest.raises(pb.AuthError) as info:
        provider.submit(VIDEO_JOBS[kind])
    assert SIM_KEY not in info.value.message
