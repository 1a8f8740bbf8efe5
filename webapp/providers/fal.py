"""fal.ai queue API: create on queue.fal.run, then follow the status/response/cancel
URLs the queue hands back (stored verbatim, never rebuilt).

Input mapping (fal inputs are model-specific; this is the common subset of the video
endpoints in providers.md §2, e.g. kling-video and veo3.1):

    prompt           -> "prompt"
    aspect_ratio     -> "aspect_ratio"   ("16:9", "9:16", "1:1")
    seconds          -> "duration"       (a string: "5"; extra["duration_format"] = "{}s"
                                          gives veo3.1's "8s")
    reference image  -> "image_url"      (a data: URL; fal accepts data URIs)
    extra["input_defaults"] is merged last (model-specific knobs: resolution, cfg_scale ...)
"""

from __future__ import annotations

import base64

from . import base as pb
from .http import HttpAdapter, clean_message, json_of, stream_download, summarize

STATES = {"IN_QUEUE": pb.QUEUED, "IN_PROGRESS": pb.IN_PROGRESS, "COMPLETED": pb.COMPLETED}


def _int(value) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _body_error_type(resp) -> str | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    value = data.get("error_type") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _is_job_failure(resp) -> bool:
    """A 5xx on the result fetch is the job's own failure when fal says so (error-type
    header or an error body); otherwise it is the queue having trouble."""
    if resp.headers.get("X-Fal-Error-Type"):
        return True
    try:
        data = resp.json()
    except ValueError:
        return False
    return isinstance(data, dict) and bool(data.get("detail") or data.get("error"))


class FalQueue(HttpAdapter):
    capabilities = frozenset({pb.CAP_CANCEL, pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT})
    default_prefix = ""

    def _credentials(self) -> dict:
        return {"Authorization": f"Key {self.config.api_key}"} if self.config.api_key else {}

    def _input(self, job: pb.Job) -> dict:
        data = {"prompt": job.prompt}
        if job.aspect_ratio:
            data["aspect_ratio"] = job.aspect_ratio
        if job.seconds:
            fmt = str(self.config.extra.get("duration_format") or "{}")
            data["duration"] = fmt.format(int(job.seconds))
        if job.reference_image:
            data["image_url"] = (
                f"data:{job.reference_mime or 'image/png'};base64,"
                + base64.b64encode(job.reference_image).decode()
            )
        data.update(self.config.extra.get("input_defaults") or {})
        return data

    def submit(self, job: pb.Job) -> pb.Submitted:
        resp = self.send(
            "POST",
            f"{self.root}/{job.model.strip('/')}",
            create=True,
            json=self._input(job),
        )
        data = json_of(resp, create=True)
        request_id = data.get("request_id")
        if not request_id:
            raise pb.AmbiguousError("The queue accepted the request but sent no request id.")
        handles = {
            k: data.get(k)
            for k in ("request_id", "status_url", "response_url", "cancel_url")
            if data.get(k)
        }
        return pb.Submitted(
            external_id=request_id,
            status=pb.UpstreamStatus(
                state=pb.QUEUED,
                raw_status=data.get("status"),
                queue_position=_int(data.get("queue_position")),
            ),
            handles=handles,
        )

    def _handle_url(self, external_id: str, handles: dict, which: str) -> str:
        """The URL the queue handed back at submit, used verbatim (never rebuilt)."""
        url = handles.get(f"{which}_url")
        if not url:
            raise pb.PermanentError(f"The queue's {which} URL is missing for this job.")
        return url

    def status(self, external_id: str, handles: dict) -> pb.UpstreamStatus:
        url = self._handle_url(external_id, handles, "status")
        resp = self.send(
            "GET",
            url,
        )
        data = json_of(resp)
        raw = str(data.get("status") or "")
        if isinstance(data.get("error"), str) and data["error"]:
            return pb.UpstreamStatus(
                state=pb.FAILED,
                error_code=str(data.get("error_type") or "generation_failed")[:64],
                error_message=clean_message(data["error"], self.config.api_key, 200),
                raw_status=raw,
            )
        state = STATES.get(raw, pb.QUEUED)
        if state != pb.COMPLETED:
            return pb.UpstreamStatus(
                state=state, raw_status=raw, queue_position=_int(data.get("queue_position"))
            )
        return self._result(external_id, handles)

    def _result(self, external_id: str, handles: dict) -> pb.UpstreamStatus:
        """fal reports COMPLETED even for failures: the result fetch tells which (a
        non-2xx with a JSON ``detail``/``error`` and often ``X-Fal-Error-Type``)."""
        url = self._handle_url(external_id, handles, "response")
        resp = self.send(
            "GET",
            url,
            allow=(400, 409, 410, 413, 415, 422, 500, 502, 503, 504),
        )
        if resp.status_code >= 500 and not _is_job_failure(resp):
            code = resp.status_code
            resp.close()
            raise pb.TransientError(f"The provider is having trouble (HTTP {code}).")
        if resp.status_code == 400 and not (
            resp.headers.get("X-Fal-Error-Type") or _body_error_type(resp)
        ):
            # The queue's documented answer while a request "has not been completed" (the
            # status said COMPLETED a moment early): look again, it is not a failure.
            resp.close()
            return pb.UpstreamStatus(state=pb.IN_PROGRESS, raw_status="COMPLETED")
        if resp.status_code >= 400:
            message = summarize(resp, self.config.api_key)
            code = resp.headers.get("X-Fal-Error-Type") or _body_error_type(resp)
            code = (code or "generation_failed")[:64]
            resp.close()
            if "cancel" in code.lower():
                return pb.UpstreamStatus(
                    state=pb.CANCELLED, error_code=code, raw_status="COMPLETED"
                )
            return pb.UpstreamStatus(
                state=pb.FAILED, error_code=code, error_message=message, raw_status="COMPLETED"
            )
        data = json_of(resp)
        urls = {}
        video = data.get("video")
        if isinstance(video, dict) and video.get("url"):
            urls["video"] = video["url"]
        images = data.get("images")
        if (
            not urls
            and isinstance(images, list)
            and images
            and isinstance(images[0], dict)
            and images[0].get("url")
        ):
            urls["video"] = images[0]["url"]
        if not urls:
            return pb.UpstreamStatus(
                state=pb.FAILED,
                error_code="no_output",
                error_message="The provider finished without producing a file.",
                raw_status="COMPLETED",
            )
        return pb.UpstreamStatus(
            state=pb.COMPLETED, progress=100, result_urls=urls, raw_status="COMPLETED"
        )

    def download(self, external_id: str, handles: dict, variant: str = "video") -> pb.Download:
        if variant != "video":
            raise pb.NotFound(f"fal has no {variant}.")
        status = self._result(external_id, handles)
        if status.state != pb.COMPLETED:
            raise pb.ContentExpired("The provider no longer has this result.")
        url = status.result_urls["video"]
        try:
            resp = self.send(
                "GET",
                url,
                stream=True,
            )
        except pb.NotFound as exc:
            raise pb.ContentExpired("The provider's file has expired.") from exc
        return stream_download(resp, "video/mp4")

    def remix(self, external_id, handles, job):
        raise pb.PermanentError("fal cannot remix videos.")

    def cancel(self, external_id: str, handles: dict) -> None:
        url = handles.get("cancel_url")
        if url:
            resp = self.send(
                "PUT",
                url,
                allow=(400, 404),
            )
            if resp.status_code < 300:
                json_of(resp)  # an unreadable 2xx is no confirmation (TransientError)
            resp.close()

    def delete(self, external_id, handles):
        raise pb.PermanentError("fal cannot delete jobs.")

    def list_jobs(self, since) -> list:
        return []  # the protocol cannot list jobs (no CAP_LIST)

    def check(self) -> pb.CheckResult:
        # There is no side-effect-free authenticated endpoint on the queue: asking for a
        # nonexistent request's status tells reachability and auth apart.
        try:
            resp = self.send(
                "GET",
                f"{self.root}/fal-ai/reelay-check/requests/00000000-0000-0000-0000-000000000000/status",
                allow=(400, 404, 405, 422),
            )
        except pb.AuthError:
            return pb.CheckResult(False, True, False, "Reachable, but fal refused the key.")
        except pb.ProviderError as exc:
            return pb.CheckResult(False, False, None, exc.message)
        resp.close()
        return pb.CheckResult(True, True, True, "Reachable and the key was accepted.")
