"""OpenRouter's video API: ``POST /api/v1/videos`` (202 ``{id, polling_url, status}``), poll
``GET /videos/{id}``, download ``GET /videos/{id}/content?index=0``.

No cancel, no list and no delete exist; ``cancelled`` and ``expired`` are states one can
only observe. A finished job reports what it cost (``usage.cost``, USD), which becomes
the task's actual cost. ``GET /videos/models`` says per model which durations, sizes,
resolutions and aspect ratios it takes (``models()``), so the form offers only those.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from . import base as pb
from .http import HttpAdapter, clean_message, json_of, parse_time, seg, stream_download

STATES = {
    "pending": pb.QUEUED,
    "in_progress": pb.IN_PROGRESS,
    "completed": pb.COMPLETED,
    "failed": pb.FAILED,
    "cancelled": pb.CANCELLED,
    "expired": pb.FAILED,
}
RESOLUTION = {"1280x720": "720p", "720x1280": "720p", "1920x1080": "1080p", "1080x1920": "1080p"}


@dataclass(frozen=True)
class VideoModel:
    id: str
    name: str
    durations: tuple[int, ...]
    sizes: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    resolutions: tuple[str, ...]
    frame_images: tuple[str, ...]


def parse_job(data: dict, secret: str | None = None) -> pb.UpstreamStatus:
    raw = str(data.get("status") or "")
    state = STATES.get(raw, pb.QUEUED)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    cost = usage.get("cost")
    status = pb.UpstreamStatus(
        state=state,
        progress=100 if state == pb.COMPLETED else None,
        expires_at=parse_time(data.get("expires_at")),
        raw_status=raw[:40] or None,
        cost=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
    )
    if raw == "expired":
        status.error_code, status.error_message = "expired", "The job expired at OpenRouter."
    elif state == pb.FAILED:
        status.error_code = "generation_failed"
        message = data.get("error") if isinstance(data.get("error"), str) else ""
        status.error_message = (
            clean_message(message, secret, 200) or "OpenRouter could not generate this video."
        )
    return status


class OpenRouterVideos(HttpAdapter):
    capabilities = frozenset({pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT})
    default_prefix = "/api/v1"

    def _credentials(self) -> dict:
        return {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}

    def _body(self, job: pb.Job) -> dict:
        body: dict = {"model": job.model, "prompt": job.prompt}
        if job.seconds:
            body["duration"] = int(job.seconds)
        if job.size:
            body["size"] = job.size
        elif job.aspect_ratio:
            body["aspect_ratio"] = job.aspect_ratio
        if job.reference_image:
            url = (
                f"data:{job.reference_mime or 'image/png'};base64,"
                + base64.b64encode(job.reference_image).decode()
            )
            body["frame_images"] = [
                {"type": "image_url", "image_url": {"url": url}, "frame_type": "first_frame"}
            ]
        if "generate_audio" in self.config.extra:
            body["generate_audio"] = bool(self.config.extra["generate_audio"])
        return body

    def submit(self, job: pb.Job) -> pb.Submitted:
        resp = self.send("POST", f"{self.root}/videos", create=True, json=self._body(job))
        data = json_of(resp, create=True)
        job_id = data.get("id")
        if not isinstance(job_id, str) or not job_id:
            raise pb.AmbiguousError("OpenRouter accepted the request but sent no job id.")
        return pb.Submitted(external_id=job_id, status=parse_job(data, self.config.api_key))

    def status(self, external_id: str, handles: dict) -> pb.UpstreamStatus:
        resp = self.send("GET", f"{self.root}/videos/{seg(external_id)}")
        return parse_job(json_of(resp), self.config.api_key)

    def download(self, external_id: str, handles: dict, variant: str = "video") -> pb.Download:
        if variant != "video":
            raise pb.NotFound(f"OpenRouter has no {variant}.")
        try:
            resp = self.send(
                "GET",
                f"{self.root}/videos/{seg(external_id)}/content",
                stream=True,
                params={"index": 0},
                headers={"Accept": "video/mp4"},
            )
        except pb.NotFound as exc:
            raise pb.ContentExpired("OpenRouter no longer has this video.") from exc
        except pb.PermanentError as exc:
            if "410" in exc.message or "expired" in exc.message.lower():
                raise pb.ContentExpired("OpenRouter no longer has this video.") from exc
            raise
        return stream_download(resp, "video/mp4")

    def models(self) -> list[VideoModel]:
        data = json_of(self.send("GET", f"{self.root}/videos/models"))
        out = []
        for item in data.get("data") or []:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            out.append(
                VideoModel(
                    id=item["id"],
                    name=str(item.get("name") or item["id"])[:100],
                    durations=tuple(
                        d for d in item.get("supported_durations") or [] if isinstance(d, int)
                    ),
                    sizes=tuple(str(s) for s in item.get("supported_sizes") or []),
                    aspect_ratios=tuple(str(a) for a in item.get("supported_aspect_ratios") or []),
                    resolutions=tuple(str(r) for r in item.get("supported_resolutions") or []),
                    frame_images=tuple(str(f) for f in item.get("supported_frame_images") or []),
                )
            )
        return out

    def remix(self, external_id, handles, job):
        raise pb.PermanentError("OpenRouter cannot remix videos.")

    def cancel(self, external_id, handles):
        raise pb.PermanentError("OpenRouter cannot cancel a video job.")

    def delete(self, external_id, handles):
        raise pb.PermanentError("OpenRouter cannot delete a video job.")

    def list_jobs(self, since) -> list:
        return []  # the protocol cannot list jobs (no CAP_LIST)

    def check(self) -> pb.CheckResult:
        try:
            self.send("GET", f"{self.root}/videos/models").close()
            # The models list needs no key; a status read of a job that cannot exist does.
            resp = self.send("GET", f"{self.root}/videos/gen-vid-0-reelaycheck", allow=(404,))
            resp.close()
        except pb.AuthError:
            return pb.CheckResult(False, True, False, "Reachable, but OpenRouter refused the key.")
        except pb.ProviderError as exc:
            return pb.CheckResult(False, False, None, exc.message)
        return pb.CheckResult(True, True, True, "Reachable and the key was accepted.")
