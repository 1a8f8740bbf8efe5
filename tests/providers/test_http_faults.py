"""Every typed error, from the shared plumbing (``webapp/providers/http.py``) through the
adapters: transport faults, status codes, error summaries, key hygiene."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.client import RemoteDisconnected

import pytest
import requests
from urllib3.exceptions import NewConnectionError, ProtocolError

from webapp.providers import base as pb
from webapp.providers.base import Job
from webapp.providers.http import make_session, request, retry_after, summarize

from .conftest import FAL, GEMINI, GW, KEY, OPENROUTER, REPLICATE, config

VIDEOS = f"{GW}/v1/videos"
JOB = Job(model="sora-2", prompt="a red fox in snow", seconds=4, size="1280x720")

# What urllib3 says when all that reaches the adapter is the text of the error.
REFUSED = (
    "HTTPSConnectionPool(host='gw.example.com', port=443): Max retries exceeded with url: "
    "/v1/videos (Caused by NewConnectionError(\"HTTPSConnection(host='gw.example.com', "
    'port=443): Failed to establish a new connection: [Errno 111] Connection refused"))'
)
DNS_TEMPORARY = (
    "HTTPSConnectionPool(host='gw.example.com', port=443): Max retries exceeded with url: "
    "/v1/videos (Caused by NameResolutionError(\"HTTPSConnection(host='gw.example.com', "
    "port=443): Failed to resolve 'gw.example.com' ([Errno -3] Temporary failure in name "
    'resolution)"))'
)
DROPPED = (
    "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the session -------------------------------------------------------------------------


def test_make_session_pools_and_never_retries():
    session = make_session(pool_size=7)
    for prefix in ("http://", "https://"):
        adapter = session.get_adapter(prefix + "example.com")
        assert adapter._pool_maxsize == 7
        assert adapter._pool_connections == 7
        assert adapter.max_retries.total == 0


def test_every_call_carries_connect_and_read_timeouts(rsps, openai, session):
    rsps.get(f"{VIDEOS}/v1", json={"id": "v1", "status": "queued"})
    openai.status("v1", {})
    assert session.calls[-1]["timeout"] == (1.0, 1.0)


# ---- transport faults --------------------------------------------------------------------


@pytest.mark.parametrize("create", [True, False])
def test_connection_refused_is_transient_even_on_create(create):
    """Nothing listens on the port: the request was never sent, so it is safe to retry."""
    cfg = config("openai", f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(pb.TransientError) as info:
        request(make_session(), "POST", cfg.base_url + "/v1/videos", cfg, create=create)
    assert not isinstance(info.value, pb.AmbiguousError)


def test_connect_timeout_is_transient_on_create(rsps, openai):
    rsps.post(VIDEOS, body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(pb.TransientError):
        openai.submit(JOB)


def test_refused_seen_through_requests_wrapping_is_transient_on_create(rsps, openai):
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    rsps.post(VIDEOS, body=requests.ConnectionError(refused))
    with pytest.raises(pb.TransientError):
        openai.submit(JOB)


@pytest.mark.parametrize("text", [REFUSED, DNS_TEMPORARY])
def test_never_connected_known_only_from_the_text_is_transient(rsps, openai, text):
    """Refused and unresolvable: nothing was sent, so even a create is safe to retry."""
    rsps.post(VIDEOS, body=requests.ConnectionError(text))
    rsps.get(f"{VIDEOS}/v1", body=requests.ConnectionError(text))
    with pytest.raises(pb.TransientError) as create:
        openai.submit(JOB)
    assert not isinstance(create.value, pb.AmbiguousError)
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})


def test_read_timeout_on_create_is_ambiguous(rsps, openai):
    rsps.post(VIDEOS, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(pb.AmbiguousError) as info:
        openai.submit(JOB)
    assert info.value.code == "upstream_ambiguous"


def test_read_timeout_on_status_is_transient(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})


DROPS = [ProtocolError("Connection aborted.", RemoteDisconnected("closed")), DROPPED]


@pytest.mark.parametrize("dropped", DROPS, ids=["exception", "text"])
def test_connection_dropped_after_sending_a_create_is_ambiguous(rsps, openai, dropped):
    rsps.post(VIDEOS, body=requests.ConnectionError(dropped))
    with pytest.raises(pb.AmbiguousError) as info:
        openai.submit(JOB)
    assert info.value.code == "upstream_ambiguous"


@pytest.mark.parametrize("dropped", DROPS, ids=["exception", "text"])
def test_connection_dropped_on_a_read_is_transient(rsps, openai, dropped):
    rsps.get(f"{VIDEOS}/v1", body=requests.ConnectionError(dropped))
    with pytest.raises(pb.TransientError) as info:
        openai.status("v1", {})
    assert not isinstance(info.value, pb.AmbiguousError)


def test_remix_is_a_create(rsps, openai):
    rsps.post(f"{VIDEOS}/v1/remix", body=requests.ReadTimeout())
    with pytest.raises(pb.AmbiguousError):
        openai.remix("v1", {}, JOB)


@pytest.mark.parametrize(
    ("kind", "base", "prefix", "url", "job"),
    [
        ("fal", FAL, "", f"{FAL}/fal-ai/kling-video", Job(model="fal-ai/kling-video", prompt="x")),
        (
            "replicate",
            "https://api.replicate.com",
            "/v1",
            f"{REPLICATE}/models/google/veo-3.1/predictions",
            Job(model="google/veo-3.1", prompt="x"),
        ),
        (
            "gemini",
            "https://generativelanguage.googleapis.com",
            "/v1beta",
            f"{GEMINI}/models/veo-3.1-generate-preview:predictLongRunning",
            Job(model="veo-3.1-generate-preview", prompt="x"),
        ),
        (
            "openrouter",
            "https://openrouter.ai",
            "/api/v1",
            f"{OPENROUTER}/videos",
            Job(model="google/veo-3.1", prompt="x"),
        ),
    ],
)
def test_every_adapter_create_timeout_garbled_or_idless_200_is_ambiguous(
    rsps, make, kind, base, prefix, url, job
):
    adapter = make(kind, base, prefix)
    rsps.post(url, body=requests.ReadTimeout())
    with pytest.raises(pb.AmbiguousError):
        adapter.submit(job)
    rsps.replace("POST", url, body="<html>oops", status=200)
    with pytest.raises(pb.AmbiguousError):
        adapter.submit(job)
    rsps.replace("POST", url, json={"status": "IN_QUEUE"}, status=200)  # no id of any kind
    with pytest.raises(pb.AmbiguousError):
        adapter.submit(job)


# ---- status codes ------------------------------------------------------------------------


@pytest.mark.parametrize("create", [True, False])
def test_429_retry_after_seconds(rsps, openai, create):
    answer = {"status": 429, "headers": {"Retry-After": "17"}, "json": {"error": {"message": "x"}}}
    rsps.post(VIDEOS, **answer)
    rsps.get(f"{VIDEOS}/v1", **answer)
    with pytest.raises(pb.RateLimited) as info:
        openai.submit(JOB) if create else openai.status("v1", {})
    assert info.value.retry_after == 17
    assert isinstance(info.value, pb.TransientError)
    assert info.value.code == "upstream_rate_limited"


def test_429_retry_after_http_date(rsps, openai):
    when = datetime.now(UTC) + timedelta(seconds=120)
    rsps.get(f"{VIDEOS}/v1", status=429, headers={"Retry-After": format_datetime(when, True)})
    with pytest.raises(pb.RateLimited) as info:
        openai.status("v1", {})
    assert 110 <= info.value.retry_after <= 121


def test_429_retry_after_ms_wins(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", status=429, headers={"retry-after-ms": "1500", "Retry-After": "9"})
    with pytest.raises(pb.RateLimited) as info:
        openai.status("v1", {})
    assert info.value.retry_after == 1.5


def test_429_without_header_has_no_hint(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", status=429)
    with pytest.raises(pb.RateLimited) as info:
        openai.status("v1", {})
    assert info.value.retry_after is None


def test_retry_after_garbage_and_past_dates():
    resp = requests.Response()
    resp.headers["Retry-After"] = "soon"
    assert retry_after(resp) is None
    resp.headers["Retry-After"] = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after(resp) == 0


@pytest.mark.parametrize(
    "body", [{"json": {"error": {"message": "boom"}}}, {"body": "<html>Bad gateway</html>"}]
)
@pytest.mark.parametrize("code", [408, 500, 503])
@pytest.mark.parametrize("create", [True, False])
def test_408_500_503_are_transient(rsps, openai, code, create, body):
    if create:
        rsps.post(VIDEOS, status=code, **body)
    else:
        rsps.get(f"{VIDEOS}/v1", status=code, **body)
    with pytest.raises(pb.TransientError) as info:
        openai.submit(JOB) if create else openai.status("v1", {})
    assert not isinstance(info.value, pb.RateLimited)
    assert not isinstance(info.value, pb.AmbiguousError)
    assert "html" not in info.value.message


def test_503_retry_after_is_kept(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", status=503, headers={"Retry-After": "12"})
    with pytest.raises(pb.TransientError) as info:
        openai.status("v1", {})
    assert info.value.retry_after == 12


@pytest.mark.parametrize("code", [502, 504])
def test_502_504_ambiguous_on_create_transient_on_read(rsps, openai, code):
    rsps.post(VIDEOS, status=code)
    rsps.get(f"{VIDEOS}/v1", status=code)
    with pytest.raises(pb.AmbiguousError):
        openai.submit(JOB)
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})


@pytest.mark.parametrize("create", [True, False])
@pytest.mark.parametrize("code", [401, 403])
def test_401_403_are_auth_errors(rsps, openai, code, create):
    body = {"error": {"message": f"Incorrect API key provided: {KEY}"}}
    rsps.post(VIDEOS, status=code, json=body)
    rsps.get(f"{VIDEOS}/v1", status=code, json=body)
    with pytest.raises(pb.AuthError) as info:
        openai.submit(JOB) if create else openai.status("v1", {})
    assert KEY not in info.value.message
    assert isinstance(info.value, pb.PermanentError)
    assert info.value.code == "upstream_auth"


def test_404_on_status_is_not_found(rsps, openai):
    rsps.get(f"{VIDEOS}/nope", status=404, json={"error": {"message": "Video not found"}})
    with pytest.raises(pb.NotFound) as info:
        openai.status("nope", {})
    assert info.value.message == "Video not found"


def test_400_long_body_is_a_short_summary_without_body_or_key(rsps, openai):
    noise = "x" * 5000
    message = f"Invalid value: '10'.   Supported values are:\n '4', '8', and '12'. {noise}"
    body = {"error": {"message": message, "type": "invalid_request_error", "key": KEY}}
    rsps.post(VIDEOS, status=400, json=body)
    with pytest.raises(pb.PermanentError) as info:
        openai.submit(JOB)
    assert type(info.value) is pb.PermanentError
    text = info.value.message
    assert text.startswith("Invalid value: '10'. Supported values are: '4', '8', and '12'.")
    assert len(text) <= 160 and len(str(info.value)) <= 160
    assert noise not in text and "invalid_request_error" not in text and "{" not in text
    assert KEY not in text and KEY not in str(info.value)


@pytest.mark.parametrize("code", [400, 422])
@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": f"Incorrect API key provided: {KEY}"}},
        {"detail": f"token {KEY} is not allowed to use this model"},
        {"message": f"key={KEY}"},
        {"error": f"bad key {KEY}"},
        {"error": {"message": "x" * 150 + KEY}},  # the key straddles the cut
    ],
)
def test_echoed_key_is_scrubbed(rsps, openai, body, code):
    rsps.post(VIDEOS, status=code, json=body)
    with pytest.raises(pb.PermanentError) as info:
        openai.submit(JOB)
    assert KEY not in info.value.message and KEY not in str(info.value)
    assert "TOPSECRET" not in info.value.message
    assert len(info.value.message) <= 160


def test_fastapi_detail_list_is_summarised(rsps, openai):
    body = {"detail": [{"loc": ["body", "duration"], "msg": "Input should be '5' or '10'"}]}
    rsps.post(VIDEOS, status=422, json=body)
    with pytest.raises(pb.PermanentError) as info:
        openai.submit(JOB)
    assert info.value.message == "Input should be '5' or '10'"


@pytest.mark.parametrize("code", [400, 422])
def test_non_json_4xx_gets_the_generic_sentence(rsps, openai, code):
    html = "<html><body>" + "junk " * 400 + KEY + "</body></html>"
    rsps.post(VIDEOS, status=code, body=html)
    with pytest.raises(pb.PermanentError) as info:
        openai.submit(JOB)
    assert info.value.message == f"The provider rejected the request (HTTP {code})."


def test_summarize_never_returns_the_raw_body():
    resp = requests.Response()
    resp.status_code = 400
    resp._content = json.dumps({"weird": "shape " * 100}).encode()
    assert summarize(resp, KEY) == "The provider rejected the request (HTTP 400)."


def test_malformed_json_on_200_transient_on_read_ambiguous_on_create(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", body='{"id": "video_', status=200)
    rsps.post(VIDEOS, body='{"id": "video_', status=200)
    with pytest.raises(pb.TransientError) as info:
        openai.status("v1", {})
    assert "malformed" in info.value.message
    with pytest.raises(pb.AmbiguousError):
        openai.submit(JOB)
    rsps.get(f"{VIDEOS}/v2", body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(pb.TransientError):
        openai.status("v2", {})


def test_json_array_on_200_is_malformed(rsps, openai):
    rsps.get(f"{VIDEOS}/v1", json=[1, 2, 3])
    with pytest.raises(pb.TransientError):
        openai.status("v1", {})


# ---- key hygiene -------------------------------------------------------------------------


def test_key_not_in_config_or_adapter_repr(openai, fal, replicate, gemini):
    for adapter in (openai, fal, replicate, gemini):
        assert KEY not in repr(adapter.config)
        assert KEY not in repr(adapter)
        assert KEY not in str(adapter.config)
        assert "TOPSECRET" not in repr(adapter.config)


def test_key_never_in_logs_or_messages(rsps, openai, fal, gemini, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"bad key {KEY}", "code": KEY}, "detail": KEY}
    status_url = f"{FAL}/fal-ai/kling-video/requests/r1/status"
    operation = "models/veo-3.1-generate-preview/operations/op1"
    rsps.post(VIDEOS, status=400, json={"error": {"message": f"bad {KEY}"}})
    rsps.get(f"{VIDEOS}/v1", status=401, json={"error": {"message": KEY}})
    rsps.get(f"{VIDEOS}/v2", status=503, body=f"upstream says {KEY}")
    rsps.get(f"{VIDEOS}/v3", body=requests.ReadTimeout(f"timeout talking with {KEY}"))
    rsps.get(f"{VIDEOS}/v4", status=404, json=echo)
    rsps.get(f"{VIDEOS}/v5", status=500, json=echo)
    rsps.get(f"{VIDEOS}/v6", body=requests.ConnectionError(f"reset {KEY}"))
    rsps.get(f"{VIDEOS}/v7/content", status=404, json=echo)
    rsps.get(status_url, status=403, json=echo)
    rsps.get(f"{GEMINI}/{operation}", status=429, json=echo, headers={"Retry-After": "1"})
    errors = []
    calls = (
        lambda: openai.submit(JOB),
        lambda: openai.status("v1", {}),
        lambda: openai.status("v2", {}),
        lambda: openai.status("v3", {}),
        lambda: openai.status("v4", {}),
        lambda: openai.status("v5", {}),
        lambda: openai.status("v6", {}),
        lambda: openai.download("v7", {}),
        lambda: fal.status("r1", {"status_url": status_url}),
        lambda: gemini.status(operation, {}),
    )
    for call in calls:
        with pytest.raises(pb.ProviderError) as info:
            call()
        errors.append(info.value)
    assert len(errors) == len(calls)
    for err in errors:
        assert KEY not in err.message and KEY not in str(err) and KEY not in repr(err)
    assert caplog.records, "failures are logged at WARNING"
    assert all(r.levelno == logging.WARNING for r in caplog.records if "upstream" in r.name)
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.args)
        assert "bad" not in record.getMessage()  # no bodies either
    assert KEY not in caplog.text


def test_key_only_travels_in_headers(rsps, openai, session):
    rsps.post(VIDEOS, json={"id": "video_1", "status": "queued"})
    openai.submit(JOB)
    call = session.calls[-1]
    assert KEY not in call["url"]
    assert KEY not in json.dumps(call.get("json") or {})
    assert rsps.calls[-1].request.headers["Authorization"] == f"Bearer {KEY}"
