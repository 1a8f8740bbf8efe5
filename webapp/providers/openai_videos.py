"""The OpenAI Videos protocol as gateways and relays serve it (new-api, LiteLLM, Sora
relays): configurable path prefix and auth header style, tolerant parsing."""

from __future__ import annotations

from datetime import datetime

import requests

from ..domain.reconcile import echo_of
from . import base as pb
from .http import (
    HttpAdapter,
    clean_message,
    json_of,
    parse_progress,
    parse_time,
    says_expired,
    seg,
    stream_download,
    summarize,
    utcnow,
)

STATE_WORDS = {
    pb.QUEUED: {
        "queued",
        "pending",
        "submitted",
        "not_start",
        "not_started",
        "notstarted",
        "preparing",
        "unknown",
        "waiting",
        "created",
        "starting",
    },
    pb.IN_PROGRESS: {
        "in_progress",
        "processing",
        "running",
        "generating",
        "in-progress",
        "started",
    },
    pb.COMPLETED: {"completed", "succeeded", "success", "done", "finished", "complete"},
    pb.FAILED: {"failed", "failure", "fail", "error", "errored", "expired", "rejected"},
    pb.CANCELLED: {"cancelled", "canceled", "aborted"},
}
_WORD_TO_STATE = {w: state for state, words in STATE_WORDS.items() for w in words}
LIST_PAGES = 5

VARIANT_TYPES = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}


def _seconds(item: dict) -> int | None:
    try:
        return int(str(item.get("seconds")).strip()) if item.get("seconds") else None
    except ValueError:
        return None


def normalize_state(raw) -> str:
    """Unknown words are treated as queued: keep polling rather than guess an end."""
    return _WORD_TO_STATE.get(str(raw or "").strip().lower(), pb.QUEUED)


def parse_video(
    data: dict, poll_after: float | None = None, secret: str | None = None
) -> pb.UpstreamStatus:
    raw = data.get("status") or data.get("task_status") or data.get("state")
    state = normalize_state(raw)
    if not raw and data.get("error"):
        state = pb.FAILED  # an error with no status is a failure, not "still queued"
    progress = parse_progress(data.get("progress"))
    if state == pb.COMPLETED:
        progress = 100
    error = data.get("error")
    code = message = None
    if isinstance(error, dict):
        code = error.get("code") and str(error.get("code"))[:64]
        message = error.get("message")
    elif isinstance(error, str) and error:
        message = error
    if state == pb.FAILED and not message:
        message = (
            data.get("fail_reason")
            or data.get("message")
            or "The provider could not generate this video."
        )
    if message:
        message = clean_message(str(message), secret, limit=200)
    urls = {}
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    for candidate in (
        meta.get("url"),
        data.get("output_url"),
        data.get("video_url"),
        data.get("url"),
        data.get("result_url"),  # new-api's native TaskDto
    ):
        if isinstance(candidate, str) and candidate.startswith(("http://", "https://")):
            urls["video"] = candidate
            break
    return pb.UpstreamStatus(
        state=state,
        progress=progress,
        error_code=code if state == pb.FAILED else None,
        error_message=message if state == pb.FAILED else None,
        expires_at=parse_time(data.get("expires_at")),
        result_urls=urls,
        poll_after=poll_after,
        raw_status=str(raw)[:40] if raw else None,
    )


# new-api's native ``/v1/video/generations/{id}`` words (TaskDto), upper-case in its code.
TASK_WORDS = {
    "NOT_START": pb.QUEUED,
    "SUBMITTED": pb.QUEUED,
    "QUEUED": pb.QUEUED,
    "UNKNOWN": pb.QUEUED,
    "IN_PROGRESS": pb.IN_PROGRESS,
    "SUCCESS": pb.COMPLETED,
    "FAILURE": pb.FAILED,
}


def parse_task_dto(
    body: dict, poll_after: float | None = None, secret: str | None = None
) -> pb.UpstreamStatus:
    """new-api's own task envelope ``{"code": "success", "data": TaskDto}``; the docs and
    the code disagree on the words, so both spellings go through ``parse_video``."""
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    data = dict(data)
    raw = str(data.get("status") or "")
    if raw in TASK_WORDS:
        data["status"] = {
            pb.QUEUED: "queued",
            pb.IN_PROGRESS: "in_progress",
            pb.COMPLETED: "completed",
            pb.FAILED: "failed",
        }[TASK_WORDS[raw]]
    status = parse_video(data, poll_after, secret)
    status.raw_status = raw[:40] or status.raw_status
    inner = data.get("data")  # the upstream's own video object, stored as it came
    if status.expires_at is None and isinstance(inner, dict) and inner.get("expires_at"):
        status.expires_at = parse_video(inner, poll_after, secret).expires_at
    return status


def _code_of(resp) -> str | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    code = data.get("code")
    if code is None and isinstance(data.get("error"), dict):
        code = data["error"].get("code")
    return str(code) if code is not None else None


def _not_implemented(resp) -> bool:
    if resp.status_code == 501:
        return True
    try:
        text = resp.text[:2000].lower()
    except Exception:  # noqa: BLE001 - unreadable body: not the marker we look for
        return False
    return "not implemented" in text or "not_implemented" in text


_BASIC = frozenset({pb.CAP_REMIX, pb.CAP_IMAGE_INPUT})
# What each kind of gateway can do (settings["profile"]); Reelay never relies on the rest.
PROFILES = {
    # OpenAI's own API, and gateways that pass it through whole.
    "openai": _BASIC | {pb.CAP_DELETE, pb.CAP_LIST, pb.CAP_THUMBNAIL, pb.CAP_SPRITESHEET},
    # new-api: no list, no DELETE, content is the MP4 whatever the variant.
    "newapi": _BASIC,
    # LiteLLM proxy: no DELETE; its list drops the prompt, so it cannot find a lost job.
    "litellm": _BASIC,
    # Sora relays (/sora/v1): create, poll, content, remix.
    "relay": _BASIC,
}
PROFILE_LABELS = {
    "openai": "OpenAI-shaped (list, delete, thumbnails)",
    "newapi": "new-api (no list, no delete)",
    "litellm": "LiteLLM proxy (no delete)",
    "relay": "Sora relay, /sora/v1 (no list, no delete)",
}


class OpenAIVideos(HttpAdapter):
    capabilities = PROFILES["openai"]

    def __init__(self, config: pb.ProviderConfig, session: requests.Session):
        super().__init__(config, session)
        self.profile = config.extra.get("profile") or "openai"
        caps = PROFILES.get(self.profile, _BASIC)
        # No cancel in the OpenAI protocol: some gateways stop a running job on DELETE.
        # Only advertise it when the admin says this gateway does (extra["cancel"]).
        if pb.CAP_DELETE in caps and (
            config.extra.get("cancel") or config.extra.get("cancel_via_delete")
        ):
            caps = caps | {pb.CAP_CANCEL}
        self.capabilities = caps

    # ---- helpers -------------------------------------------------------------------

    def _credentials(self) -> dict:
        key = self.config.api_key
        if not key:
            return {}
        return {"Authorization": key if self.config.auth_style == "raw" else f"Bearer {key}"}

    def _url(self, path: str) -> str:
        return f"{self.root}/{path.lstrip('/')}"

    @staticmethod
    def _poll_hint(resp) -> float | None:
        value = resp.headers.get("openai-poll-after-ms")
        try:
            return float(value) / 1000 if value else None
        except ValueError:
            return None

    def _submitted(self, resp) -> pb.Submitted:
        hint = self._poll_hint(resp)
        data = json_of(resp, create=True)
        external = data.get("id") or data.get("task_id") or data.get("video_id")
        if not isinstance(external, str) or not external:
            raise pb.AmbiguousError("The provider accepted the request but sent no job id.")
        return pb.Submitted(
            external_id=external, status=parse_video(data, hint, self.config.api_key), handles={}
        )

    # ---- protocol --------------------------------------------------------------------

    def submit(self, job: pb.Job) -> pb.Submitted:
        fields = {"prompt": job.prompt, "model": job.model}
        if job.seconds:
            fields["seconds"] = str(job.seconds)
        if job.size:
            fields["size"] = job.size
        if self.config.extra.get("pass_options"):
            fields.update({k: v for k, v in job.options.items()})
        headers = {"Idempotency-Key": job.client_ref} if job.client_ref else {}
        if job.reference_image:
            ext = (job.reference_mime or "image/png").split("/")[-1]
            files = {
                "input_reference": (
                    f"reference.{ext}",
                    job.reference_image,
                    job.reference_mime or "image/png",
                )
            }
            body = {"data": {k: str(v) for k, v in fields.items()}, "files": files}
        else:
            body = {"json": fields}
        resp = self.send(
            "POST",
            self._url("videos"),
            create=True,
            headers=headers,
            **body,
        )
        return self._submitted(resp)

    def status(self, external_id: str, handles: dict) -> pb.UpstreamStatus:
        resp = self.send(
            "GET",
            self._url(f"videos/{seg(external_id)}"),
            allow=(400, 404, 501),
        )
        hint = self._poll_hint(resp)
        if resp.status_code == 400:
            # new-api says "no such task" with a 400 and {"code": "task_not_exist"}.
            if _code_of(resp) == "task_not_exist":
                resp.close()
                raise pb.NotFound("The provider does not know this job.")
            message = summarize(resp, self.config.api_key)
            resp.close()
            raise pb.PermanentError(message)
        if resp.status_code in (404, 501):
            if _not_implemented(resp):
                resp.close()
                return self._task_status(external_id)
            message = summarize(resp, self.config.api_key)
            resp.close()
            raise pb.NotFound(message)
        return parse_video(json_of(resp), hint, self.config.api_key)

    def _task_status(self, external_id: str) -> pb.UpstreamStatus:
        """new-api answers 501 when a channel's adaptor cannot render an OpenAI video
        object; its native task route still can."""
        resp = self.send(
            "GET",
            f"{self.config.base_url.rstrip('/')}/v1/video/generations/{seg(external_id)}",
        )
        hint = self._poll_hint(resp)
        return parse_task_dto(json_of(resp), hint, self.config.api_key)

    def download(self, external_id: str, handles: dict, variant: str = "video") -> pb.Download:
        expires = parse_time(handles.get("expires_at"))
        if expires is not None and expires <= utcnow():
            raise pb.ContentExpired("The provider's copy expired before it was downloaded.")
        try:
            resp = self.send(
                "GET",
                self._url(f"videos/{seg(external_id)}/content"),
                stream=True,
                params={"variant": variant} if variant != "video" else None,
                headers={"Accept": "application/binary"},
            )
        except pb.NotFound as exc:
            # A finished job's content that 404s/410s is gone; say so when the upstream did.
            message = exc.message if says_expired(exc.message) else ""
            raise pb.ContentExpired(message or "The provider no longer has this result.") from exc
        return stream_download(resp, VARIANT_TYPES.get(variant, "application/octet-stream"))

    def remix(self, external_id: str, handles: dict, job: pb.Job) -> pb.Submitted:
        headers = {"Idempotency-Key": job.client_ref} if job.client_ref else {}
        resp = self.send(
            "POST",
            self._url(f"videos/{seg(external_id)}/remix"),
            create=True,
            headers=headers,
            json={"prompt": job.prompt},
            allow=(400, 404),
        )
        if resp.status_code == 404 or (
            resp.status_code == 400 and _code_of(resp) == "task_not_exist"
        ):
            resp.close()
            raise pb.NotFound(
                "The provider no longer has the original video, so it cannot be remixed."
            )
        if resp.status_code == 400:
            message = summarize(resp, self.config.api_key)
            resp.close()
            raise pb.PermanentError(message)
        return self._submitted(resp)

    def cancel(self, external_id: str, handles: dict) -> None:
        self.delete(external_id, handles)

    def delete(self, external_id: str, handles: dict) -> None:
        """Done only when the provider says so (``deleted: true``) or no longer has it: a
        200 that cannot be read is no confirmation."""
        resp = self.send(
            "DELETE",
            self._url(f"videos/{seg(external_id)}"),
            allow=(404,),
        )
        if resp.status_code == 404:
            resp.close()
            return
        if json_of(resp).get("deleted") is False:
            raise pb.TransientError("The provider did not confirm the deletion.")

    def list_jobs(self, since: datetime) -> list[pb.Listed]:
        """Newest first, page by page until the jobs are older than ``since``."""
        found: list[pb.Listed] = []
        after = None
        for _ in range(LIST_PAGES):
            params = {"order": "desc", "limit": 100}
            if after:
                params["after"] = after
            resp = self.send(
                "GET",
                self._url("videos"),
                params=params,
            )
            data = json_of(resp)
            items = [i for i in data.get("data") or [] if isinstance(i, dict)]
            for item in items:
                listed = self._listed(item)
                if listed is not None:
                    found.append(listed)
            oldest = parse_time(items[-1].get("created_at")) if items else None
            after = items[-1].get("id") if items else None
            if not data.get("has_more") or not after or (oldest and oldest < since):
                break
        return found

    def _listed(self, item: dict) -> pb.Listed | None:
        external = item.get("id") or item.get("task_id")
        if not isinstance(external, str) or not external:
            return None
        prompt = item.get("prompt") if isinstance(item.get("prompt"), str) else None
        return pb.Listed(
            external_id=external,
            created_at=parse_time(item.get("created_at")),
            echo=echo_of(item.get("model"), prompt, item.get("size"), _seconds(item)),
            status=parse_video(item, secret=self.config.api_key),
        )

    def check(self) -> pb.CheckResult:
        try:
            resp = self.send(
                "GET",
                self._url("videos"),
                params={"limit": 1},
                allow=(404, 405),
            )
        except pb.AuthError:
            return pb.CheckResult(
                False, True, False, "Reachable, but the provider refused the API key."
            )
        except pb.ProviderError as exc:
            return pb.CheckResult(False, False, None, exc.message)
        code = resp.status_code
        resp.close()
        if code in (404, 405):
            return self._check_models()
        return pb.CheckResult(True, True, True, "Reachable and the API key was accepted.")

    def _check_models(self) -> pb.CheckResult:
        """Gateways without a video list (new-api) still serve ``/models`` with auth."""
        unknown = pb.CheckResult(
            True,
            True,
            None,
            "Reachable; this gateway does not list videos, so the key could not be checked.",
        )
        try:
            resp = self.send(
                "GET",
                self._url("models"),
                allow=(404, 405),
            )
        except pb.AuthError:
            return pb.CheckResult(
                False, True, False, "Reachable, but the provider refused the API key."
            )
        except pb.ProviderError:
            return unknown
        code = resp.status_code
        resp.close()
        if code in (404, 405):
            return unknown
        return pb.CheckResult(True, True, True, "Reachable and the API key was accepted.")
