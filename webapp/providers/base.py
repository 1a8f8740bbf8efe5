"""The one protocol every upstream adapter implements.

Adapters translate between Reelay's normalized view of a job and an upstream's wire
format. They never touch the database: the services store what they return
(``Submitted.handles`` is persisted verbatim and passed back on every later call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ..domain.reconcile import Echo

# Normalized upstream states.
QUEUED = "queued"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = (QUEUED, IN_PROGRESS, COMPLETED, FAILED, CANCELLED)

# Capability names; the UI and services hide or refuse what an adapter lacks.
CAP_REMIX = "remix"
CAP_CANCEL = "cancel"
CAP_DELETE = "delete"
CAP_LIST = "list"  # can list recent jobs: used to reconcile an ambiguous submit
CAP_IMAGE_INPUT = "image_input"
CAP_THUMBNAIL = "thumbnail"
CAP_SPRITESHEET = "spritesheet"
# Takes an aspect ratio of its own (the provider picks the pixel size for it); without
# it the size alone sets the shape (OpenAI Videos).
CAP_ASPECT = "aspect_ratio"
VEO_ASPECTS = frozenset({"16:9", "9:16"})  # the shapes Veo makes (no square video)

VARIANTS = ("video", "thumbnail", "spritesheet")


@dataclass(frozen=True)
class ProviderConfig:
    """Connection settings of one configured provider; the key is resolved from the
    environment by the caller and never stored in the database."""

    kind: str  # "openai" | "openrouter" | "fal" | "replicate" | "gemini" | "vertex"
    base_url: str
    path_prefix: str = "/v1"
    auth_style: str = (
        "bearer"  # "bearer": "Authorization: Bearer <key>"; "raw": "Authorization: <key>"
    )
    api_key: str | None = field(default=None, repr=False)  # never in logs or reprs
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    extra: dict = field(default_factory=dict)  # adapter-specific settings
    networks: str = "public"  # where requests may go: public | loopback | private
    # Called before each request to the provider's own host (the shared rate limit).
    pace: Callable[[], None] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Job:
    """What to generate, in upstream terms (model already mapped)."""

    model: str  # the upstream's model name
    prompt: str
    media_type: str = "VIDEO"  # "VIDEO" | "IMAGE"
    size: str | None = None  # "1280x720"
    seconds: int | None = None
    aspect_ratio: str | None = None  # "16:9" | "9:16" | "1:1"
    reference_image: bytes | None = None
    reference_mime: str | None = None  # image/png | image/jpeg | image/webp
    options: dict = field(default_factory=dict)  # watermark, hd, private, n ...
    client_ref: str | None = None  # Reelay's video_id; sent as Idempotency-Key / metadata


@dataclass
class UpstreamStatus:
    state: str  # one of STATES
    progress: int | None = None  # 0-100, None when the upstream does not say
    error_code: str | None = None
    error_message: str | None = None  # short, summarised; never a raw upstream body
    expires_at: datetime | None = None  # UTC, naive
    result_urls: dict[str, str] = field(
        default_factory=dict
    )  # variant -> URL, when the upstream gives one
    poll_after: float | None = None  # seconds; the upstream's own hint
    raw_status: str | None = None  # the upstream's word, for the audit trail
    queue_position: int | None = None  # fal's IN_QUEUE position, when the upstream says
    cost: float | None = None  # what the upstream says the job cost (OpenRouter usage.cost)


@dataclass
class Submitted:
    external_id: str
    status: UpstreamStatus
    handles: dict = field(default_factory=dict)  # persisted; passed back to status/download/cancel
    # Synchronous providers (Gemini image) hand the result back at once: variant -> (bytes, mime).
    inline_results: dict[str, tuple[bytes, str]] = field(default_factory=dict)


@dataclass
class Listed:
    """One job from the provider's list, with what it echoes of the create that made it
    (for reconciling a create whose answer was lost)."""

    external_id: str
    created_at: datetime | None
    echo: Echo
    status: UpstreamStatus
    handles: dict = field(default_factory=dict)


@dataclass
class Download:
    """A streamed result. Iterate ``chunks`` once and call ``close()``."""

    chunks: Iterator[bytes]
    content_type: str
    length: int | None = None
    close: object = None  # callable or None

    def release(self) -> None:
        if callable(self.close):
            self.close()


@dataclass
class CheckResult:
    ok: bool
    reachable: bool
    authenticated: bool | None
    message: str  # short, human; never contains the key


class ProviderError(Exception):
    """Base of typed upstream errors. ``message`` is safe to show to users."""

    code = "upstream_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class TransientError(ProviderError):
    """Timeout, connection refused before sending, 5xx, 429: safe to retry later."""

    code = "upstream_unavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class RateLimited(TransientError):
    code = "upstream_rate_limited"


class PermanentError(ProviderError):
    """The upstream refused the input (4xx other than 408/429): retrying will not help."""

    code = "upstream_rejected"


class AuthError(PermanentError):
    code = "upstream_auth"


class NotFound(PermanentError):
    code = "upstream_not_found"


class ContentExpired(PermanentError):
    """The upstream no longer has the result (expired or deleted)."""

    code = "content_expired"


class AmbiguousError(ProviderError):
    """A create request may have reached the upstream but no answer came back.

    Never resubmit blindly: reconcile with ``list_jobs`` or fail the task.
    """

    code = "upstream_ambiguous"


class Provider(Protocol):
    config: ProviderConfig
    capabilities: frozenset[str]

    def submit(self, job: Job) -> Submitted: ...

    def status(self, external_id: str, handles: dict) -> UpstreamStatus: ...

    def download(self, external_id: str, handles: dict, variant: str = "video") -> Download: ...

    def remix(self, external_id: str, handles: dict, job: Job) -> Submitted: ...

    def cancel(self, external_id: str, handles: dict) -> None: ...

    def delete(self, external_id: str, handles: dict) -> None: ...

    def list_jobs(self, since: datetime) -> list[Listed]:
        """Every job this key created since ``since``, newest first (CAP_LIST only).
        Matching one to a lost create is the caller's business (domain.reconcile)."""
        ...

    def check(self) -> CheckResult: ...
