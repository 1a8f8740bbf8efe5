"""HTTP plumbing shared by the adapters: one pooled session, timeouts on every call,
and failures mapped to typed errors. No automatic retries: the services own retry
policy, and a create must never be retried blindly."""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from . import addresses
from . import base as pb

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_MESSAGE = 160
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


class HttpAdapter:
    """What every adapter shares: config, pooled session, the URL root, a key-free repr,
    and ``send``, the one way any adapter talks to an upstream."""

    default_prefix = ""
    capabilities: frozenset[str] = frozenset()
    # With CAP_ASPECT: the shapes it can ask for of a video (None: any; Veo has no square).
    video_aspect_ratios: frozenset[str] | None = None
    # Hosts besides the base URL's that belong to this provider (its file host, say).
    own_hosts: tuple[str, ...] = ()

    def __init__(self, config: pb.ProviderConfig, session: requests.Session):
        self.config = config
        self.session = session
        prefix = (config.path_prefix or self.default_prefix).strip("/")
        self.root = (config.base_url.rstrip("/") + "/" + prefix).rstrip("/")
        self.host = urlsplit(config.base_url).netloc

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root}>"

    def _trusted(self, url: str) -> bool:
        """The provider's own host: the only place its credentials may go."""
        host = urlsplit(url).netloc
        return host == self.host or any(host == h or host.endswith("." + h) for h in self.own_hosts)

    def _credentials(self) -> dict:  # pragma: no cover - every adapter defines its own
        return {}

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict | None = None,
        create: bool = False,
        stream: bool = False,
        allow: tuple[int, ...] = (),
        auth: bool = True,
        **kwargs,
    ) -> requests.Response:
        """One upstream request: the address policy is checked for every URL (and every
        redirect, followed by hand), and the credentials are attached only while the
        URL is on the provider's own host (never with ``auth=False``)."""
        for _ in range(MAX_REDIRECTS + 1):
            try:
                addresses.check(url, self.config.networks)
            except addresses.AddressRefused as exc:
                raise pb.PermanentError(
                    f"Reelay does not send requests there: {exc}.", code="address_refused"
                ) from None
            sent = dict(headers or {})
            own_host = self._trusted(url)
            if auth and own_host:
                sent.update(self._credentials())
            if own_host and self.config.pace is not None:
                self.config.pace()
            resp = request(
                self.session,
                method,
                url,
                self.config,
                create=create,
                stream=stream,
                allow=allow + REDIRECTS,
                headers=sent,
                allow_redirects=False,
                **kwargs,
            )
            location = resp.headers.get("Location") if resp.status_code in REDIRECTS else None
            if not location:
                if resp.status_code in REDIRECTS and resp.status_code not in allow:
                    resp.close()
                    raise pb.TransientError("The provider redirected without saying where.")
                return resp
            resp.close()
            url = urljoin(url, location)
            if resp.status_code in (301, 302, 303) and method not in ("GET", "HEAD"):
                method = "GET"
                for body in ("json", "data", "files"):
                    kwargs.pop(body, None)
        raise pb.TransientError("The provider redirected too many times.")


def make_session(pool_size: int = 32) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "Reelay/1.0"
    return session


def retry_after(resp: requests.Response) -> float | None:
    ms = resp.headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000, 0)
        except ValueError:
            pass
    value = resp.headers.get("Retry-After")
    if not value:
        return _retry_info(resp)
    try:
        return max(float(value), 0)
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        when = parsedate_to_datetime(value)
        return max((when - datetime.now(UTC)).total_seconds(), 0)
    except (TypeError, ValueError):
        return None


def _retry_info(resp: requests.Response) -> float | None:
    """Google's hint in the body: ``error.details[]`` of type ``google.rpc.RetryInfo``
    with ``retryDelay: "47s"``."""
    if resp.status_code < 400:
        return None
    try:
        details = (resp.json().get("error") or {}).get("details") or []
    except (ValueError, AttributeError):
        return None
    for d in details if isinstance(details, list) else []:
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(d.get("retryDelay") or "")
            try:
                return max(float(delay.removesuffix("s")), 0)
            except ValueError:
                return None
    return None


def seg(value: str) -> str:
    """An upstream id as exactly one URL path segment: an id that came from a client
    (the mapping route) must never walk the upstream's path while carrying our key."""
    return quote(str(value), safe="")


def name_path(value: str) -> str:
    """A resource name that is itself a path (Gemini ``models/x/operations/y``)."""
    parts = str(value).strip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise pb.PermanentError("That upstream id is not valid.", code="invalid_external_id")
    return "/".join(quote(p, safe="") for p in parts)


def clean_message(text, secret: str | None = None, limit: int = MAX_MESSAGE) -> str:
    """Make upstream wording safe to show: no markup, no key, one short line."""
    if not isinstance(text, str):
        return ""
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[key]")
    text = re.sub(r"\b(sk|rly|key|r8)[-_][A-Za-z0-9_-]{8,}", "[key]", text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _detail_text(detail) -> str:
    """``detail`` is a string, or (FastAPI-style, as fal sends it) a list of {msg}."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("msg") or "")
    return ""


def summarize(resp: requests.Response, secret: str | None = None) -> str:
    """A short, safe sentence from an upstream error body: never the raw body."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    text = clean_message(_error_text(data), secret)
    return text or f"The provider rejected the request (HTTP {resp.status_code})."


def _error_text(data, depth: int = 0) -> str:
    """The message of an error body. Gateways (new-api) pass the upstream's whole JSON
    error on as their message: unwrap it, so only the inner message is shown."""
    text = ""
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            text = err.get("message") or err.get("msg") or ""
        elif isinstance(err, str):
            text = err
        text = (
            text or _detail_text(data.get("detail")) or data.get("message") or data.get("msg") or ""
        )
    text = text if isinstance(text, str) else ""
    stripped = text.strip()
    if depth < 3 and stripped.startswith("{") and stripped.endswith("}"):
        try:
            inner = json.loads(stripped)
        except ValueError:
            return text
        return _error_text(inner, depth + 1) or ""
    return text


def request(
    session: requests.Session,
    method: str,
    url: str,
    config: pb.ProviderConfig,
    *,
    create: bool = False,
    stream: bool = False,
    allow: tuple[int, ...] = (),
    **kwargs,
) -> requests.Response:
    """Send one request (no redirects, no credentials of its own: adapters go through
    ``HttpAdapter.send``); map every failure to a typed ProviderError.

    ``create`` marks a non-idempotent call: once the request may have been sent, a
    lost answer is ambiguous rather than transient."""
    timeout = (config.connect_timeout, config.read_timeout)
    try:
        resp = session.request(method, url, timeout=timeout, stream=stream, **kwargs)
    except requests.RequestException as exc:
        # Only the method, the path and the exception's class: never the key or a body.
        log.warning("upstream %s %s failed: %s", method, _strip_query(url), type(exc).__name__)
        _raise_for_exception(exc, create)
    status = resp.status_code
    if status < 400 or status in allow:
        return resp
    try:
        if status == 429:
            raise pb.RateLimited(
                "The provider is rate-limiting requests.", retry_after=retry_after(resp)
            )
        if status in (502, 504) and create:
            raise pb.AmbiguousError(
                f"The provider's gateway failed (HTTP {status}); the job may exist."
            )
        if status == 408 or status >= 500:
            raise pb.TransientError(
                f"The provider is having trouble (HTTP {status}).", retry_after=retry_after(resp)
            )
        message = summarize(resp, config.api_key)
        if status in (401, 403) or (status == 400 and _says_bad_key(resp)):
            # Keep the provider's own words (scrubbed): "Exhausted balance" tells an
            # admin more than "refused".
            said = message.rstrip(".")
            said = said if len(said) <= 100 else said[:99].rstrip() + "…"
            said = "" if message.startswith("The provider rejected") else f": {said}"
            raise pb.AuthError(f"The provider refused the credentials (HTTP {status}){said}.")
        if status in (404, 410):
            raise pb.NotFound(message)
        raise pb.PermanentError(message)
    finally:
        log.warning("upstream %s %s -> HTTP %s", method, _strip_query(url), status)
        resp.close()


def _says_bad_key(resp: requests.Response) -> bool:
    """Google answers a bad API key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID."""
    try:
        err = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        return False
    details = err.get("details") if isinstance(err, dict) else None
    return any(
        isinstance(d, dict) and d.get("reason") in ("API_KEY_INVALID", "API_KEY_EXPIRED")
        for d in details or []
    )


def _raise_for_exception(exc: requests.RequestException, create: bool):
    """Map a transport failure. Before sending (refused, DNS, connect timeout, TLS) it is
    always transient; after sending, a create's lost answer is ambiguous."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        raise pb.TransientError("The provider could not be reached.") from exc
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout):
        # A refused connection never sent anything; a reset after sending may have.
        if create and not _refused(exc):
            raise pb.AmbiguousError("The connection dropped before the provider answered.") from exc
        raise pb.TransientError("The provider could not be reached.") from exc
    if isinstance(exc, requests.ReadTimeout):
        if create:
            raise pb.AmbiguousError("The provider did not answer in time.") from exc
        raise pb.TransientError("The provider did not answer in time.") from exc
    if create:
        raise pb.AmbiguousError("The request to the provider failed midway.") from exc
    raise pb.TransientError("The request to the provider failed.") from exc


_EXPIRY_WORDS = ("expire", "no longer", "deleted", "removed", "gone", "not available")


def says_expired(message: str | None) -> bool:
    """Whether an upstream's (already summarised) wording speaks of expiry/deletion."""
    text = (message or "").lower()
    return any(word in text for word in _EXPIRY_WORDS)


def _refused(exc: BaseException) -> bool:
    """True when the connection was never established (so nothing was sent): urllib3's
    NewConnectionError (refused, unreachable) and NameResolutionError (a subclass)."""
    seen = set()
    stack = [exc]
    while stack:
        err = stack.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, NewConnectionError | ConnectionRefusedError | socket.gaierror):
            return True
        stack.extend([err.__cause__, err.__context__, getattr(err, "reason", None)])
        stack.extend(a for a in getattr(err, "args", ()) if isinstance(a, BaseException))
    return any(marker in repr(exc) for marker in _NEVER_CONNECTED)


# The same facts as urllib3 words them, for errors that arrive only as text.
_NEVER_CONNECTED = (
    "NewConnectionError",
    "NameResolutionError",
    "Failed to establish a new connection",
    "Failed to resolve",
    "Connection refused",
    "Name or service not known",
)


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def json_of(resp: requests.Response, *, create: bool = False) -> dict:
    """Parse a JSON object; a garbled 200 is transient on reads, ambiguous on creates."""
    try:
        data = resp.json()
    except (ValueError, json.JSONDecodeError):
        data = None
    finally:
        resp.close()
    if not isinstance(data, dict):
        if create:
            raise pb.AmbiguousError("The provider sent an unreadable answer; the job may exist.")
        raise pb.TransientError("The provider sent a malformed response.")
    return data


def stream_download(resp: requests.Response, default_type: str) -> pb.Download:
    """Wrap a streamed response; mid-stream failures surface as TransientError."""

    def chunks() -> Iterator[bytes]:
        try:
            yield from resp.iter_content(CHUNK)
        except requests.RequestException as exc:
            raise pb.TransientError("The download was interrupted.") from exc
        finally:
            resp.close()

    length = resp.headers.get("Content-Length")
    return pb.Download(
        chunks=chunks(),
        content_type=(resp.headers.get("Content-Type") or default_type).split(";")[0].strip(),
        length=int(length) if length and length.isdigit() else None,
        close=resp.close,
    )


def utcnow():
    """Naive UTC now (the protocol's convention), without the deprecated utcnow()."""
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None)


def parse_time(value):
    """Epoch seconds or milliseconds (>1e12), ISO-8601, or None → naive UTC datetime."""
    from datetime import UTC, datetime

    if value in (None, "", 0):
        return None
    try:
        if isinstance(value, (int, float)) or (
            isinstance(value, str) and value.replace(".", "", 1).isdigit()
        ):
            ts = float(value)
            if ts > 1e12:
                ts /= 1000
            return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)
        text = str(value).replace("Z", "+00:00")
        dt = datetime.fromisoformat(text)
        return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt
    except (ValueError, OverflowError, OSError):
        return None


def parse_progress(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            value = value.strip().rstrip("%")
        p = float(value)
    except (TypeError, ValueError):
        return None
    if 0 < p <= 1 and isinstance(value, float):
        p *= 100
    return max(0, min(100, int(round(p))))
