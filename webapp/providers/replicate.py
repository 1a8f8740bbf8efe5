"""Replicate predictions: create, poll, cancel; outputs are deleted after one hour, so
the archive must copy them promptly."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from ..domain.reconcile import echo_of
from . import base as pb
from .http import (
    HttpAdapter,
    clean_message,
    json_of,
    parse_time,
    seg,
    stream_download,
    utcnow,
)

LIST_PAGES = 5

STATES = {
    "starting": pb.QUEUED,
    "processing": pb.IN_PROGRESS,
    "succeeded": pb.COMPLETED,
    "failed": pb.FAILED,
    "canceled": pb.CANCELLED,
    "aborted": pb.CANCELLED,
}
OUTPUT_TTL = timedelta(hours=1)


def parse_prediction(data: dict, secret: str | None = None) -> pb.UpstreamStatus:
    raw = str(data.get("status") or "")
    state = STATES.get(raw, pb.QUEUED)
    output = data.get("output")
    url = (
        output
        if isinstance(output, str)
        else (
            output[0]
            if isinstance(output, list) and output and isinstance(output[0], str)
            else None
        )
    )
    completed = parse_time(data.get("completed_at"))
    error = data.get("error")
    status = pb.UpstreamStatus(
        state=state, raw_status=raw, progress=100 if state == pb.COMPLETED else None
    )
    if url:
        status.result_urls["video"] = url
    if state == pb.COMPLETED:
        if data.get("data_removed") or not url:
            status.expires_at = completed or datetime(1970, 1, 1)
        else:
            status.expires_at = (completed or utcnow()) + OUTPUT_TTL
    if state == pb.FAILED:
        status.error_code = "generation_failed"
        status.error_message = (
            clean_message(str(error or ""), secret, limit=200) or "The model failed."
        )
    return status


class ReplicatePredictions(HttpAdapter):
    capabilities = frozenset({pb.CAP_CANCEL, pb.CAP_LIST, pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT})
    default_prefix = "/v1"

    # The token goes to the API host and Replicate's own file host, nowhere else.
    own_hosts = ("replicate.delivery",)

    def _credentials(self) -> dict:
        return {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}

    def _input(self, job: pb.Job) -> dict:
        data = {"prompt": job.prompt}
        if job.aspect_ratio:
            data["aspect_ratio"] = job.aspect_ratio
        if job.seconds:
            data["duration"] = job.seconds
        if job.reference_image:
            data["image"] = (
                f"data:{job.reference_mime or 'image/png'};base64,"
                + base64.b64encode(job.reference_image).decode()
            )
        data.update(self.config.extra.get("input_defaults") or {})
        return data

    def submit(self, job: pb.Job) -> pb.Submitted:
        extra = {}
        if self.config.extra.get("cancel_after"):
            extra["Cancel-After"] = str(self.config.extra["cancel_after"])
        if ":" in job.model or len(job.model) == 64:
            url, body = (
                f"{self.root}/predictions",
                {"version": job.model, "input": self._input(job)},
            )
        else:
            url, body = (
                f"{self.root}/models/{job.model.strip('/')}/predictions",
                {"input": self._input(job)},
            )
        resp = self.send(
            "POST",
            url,
            create=True,
            headers=extra,
            json=body,
        )
        data = json_of(resp, create=True)
        if not data.get("id"):
            raise pb.AmbiguousError("Replicate accepted the request but sent no prediction id.")
        urls = data.get("urls") if isinstance(data.get("urls"), dict) else {}
        return pb.Submitted(
            external_id=data["id"],
            status=parse_prediction(data, self.config.api_key),
            handles={k: urls[k] for k in ("get", "cancel") if urls.get(k)},
        )

    def _get(self, external_id: str, handles: dict) -> dict:
        url = handles.get("get") or f"{self.root}/predictions/{seg(external_id)}"
        return json_of(self.send("GET", url))

    def status(self, external_id: str, handles: dict) -> pb.UpstreamStatus:
        return parse_prediction(self._get(external_id, handles), self.config.api_key)

    def download(self, external_id: str, handles: dict, variant: str = "video") -> pb.Download:
        if variant != "video":
            raise pb.NotFound(f"Replicate has no {variant}.")
        status = self.status(external_id, handles)
        url = status.result_urls.get("video")
        if not url:
            raise pb.ContentExpired("Replicate deleted this output (outputs last one hour).")
        try:
            resp = self.send(
                "GET",
                url,
                stream=True,
            )
        except pb.NotFound as exc:
            raise pb.ContentExpired(
                "Replicate deleted this output (outputs last one hour)."
            ) from exc
        return stream_download(resp, "video/mp4")

    def remix(self, external_id, handles, job):
        raise pb.PermanentError("Replicate cannot remix videos.")

    def cancel(self, external_id: str, handles: dict) -> None:
        url = handles.get("cancel") or f"{self.root}/predictions/{seg(external_id)}/cancel"
        resp = self.send("POST", url, allow=(404, 409, 422))
        if resp.status_code < 300:
            json_of(resp)  # an unreadable 2xx is no confirmation (TransientError)
        resp.close()

    def delete(self, external_id, handles):
        raise pb.PermanentError("Replicate cannot delete predictions.")

    def list_jobs(self, since: datetime) -> list[pb.Listed]:
        """Newest first, following ``next`` until the predictions are older than ``since``."""
        found: list[pb.Listed] = []
        url = f"{self.root}/predictions"
        for _ in range(LIST_PAGES):
            data = json_of(self.send("GET", url))
            items = [i for i in data.get("results") or [] if isinstance(i, dict)]
            for item in items:
                if isinstance(item.get("id"), str):
                    found.append(self._listed(item))
            oldest = parse_time(items[-1].get("created_at")) if items else None
            url = data.get("next")
            if not isinstance(url, str) or not self._trusted(url) or (oldest and oldest < since):
                break
        return found

    def _listed(self, item: dict) -> pb.Listed:
        urls = item.get("urls") if isinstance(item.get("urls"), dict) else {}
        inputs = item.get("input") if isinstance(item.get("input"), dict) else {}
        prompt = inputs.get("prompt") if isinstance(inputs.get("prompt"), str) else None
        seconds = inputs.get("duration") if isinstance(inputs.get("duration"), int) else None
        return pb.Listed(
            external_id=item["id"],
            created_at=parse_time(item.get("created_at")),
            echo=echo_of(None, prompt, None, seconds),
            status=parse_prediction(item, self.config.api_key),
            handles={k: urls[k] for k in ("get", "cancel") if urls.get(k)},
        )

    def check(self) -> pb.CheckResult:
        try:
            self.send(
                "GET",
                f"{self.root}/predictions",
            ).close()
        except pb.AuthError:
            return pb.CheckResult(False, True, False, "Reachable, but Replicate refused the token.")
        except pb.ProviderError as exc:
            return pb.CheckResult(False, False, None, exc.message)
        return pb.CheckResult(True, True, True, "Reachable and the token was accepted.")
