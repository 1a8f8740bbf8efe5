"""The Gemini API: Veo video through long-running operations (``predictLongRunning``,
then ``GET /v1beta/{name}`` until ``done``), Gemini image models through the
synchronous ``generateContent``."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

from . import base as pb
from .http import HttpAdapter, clean_message, json_of, name_path, stream_download, utcnow

RETENTION = timedelta(days=2)
RESOLUTION = {"1280x720": "720p", "720x1280": "720p", "1920x1080": "1080p", "1080x1920": "1080p"}


class GeminiAPI(HttpAdapter):
    capabilities = frozenset({pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT})
    video_aspect_ratios = pb.VEO_ASPECTS  # images: any (imageConfig.aspectRatio)
    default_prefix = "/v1beta"

    def _credentials(self) -> dict:
        return {"x-goog-api-key": self.config.api_key} if self.config.api_key else {}

    # ---- create -----------------------------------------------------------------------

    def submit(self, job: pb.Job) -> pb.Submitted:
        if job.media_type == "IMAGE":
            return self._image(job)
        instance: dict = {"prompt": job.prompt}
        if job.reference_image:
            instance["image"] = {
                "bytesBase64Encoded": base64.b64encode(job.reference_image).decode(),
                "mimeType": job.reference_mime or "image/png",
            }
        params: dict = {"sampleCount": 1}
        if job.aspect_ratio in ("16:9", "9:16"):
            params["aspectRatio"] = job.aspect_ratio
        if job.seconds:
            params["durationSeconds"] = int(job.seconds)
        if job.size in RESOLUTION:
            params["resolution"] = RESOLUTION[job.size]
        resp = self.send(
            "POST",
            f"{self.root}/models/{job.model}:predictLongRunning",
            create=True,
            json={"instances": [instance], "parameters": params},
        )
        data = json_of(resp, create=True)
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise pb.AmbiguousError(
                "The Gemini API accepted the request but sent no operation name."
            )
        status = (
            self._parse_operation(data) if data.get("done") else pb.UpstreamStatus(state=pb.QUEUED)
        )
        return pb.Submitted(external_id=name, status=status, handles={})

    def _image(self, job: pb.Job) -> pb.Submitted:
        parts: list[dict] = [{"text": job.prompt}]
        if job.reference_image:
            parts.append(
                {
                    "inlineData": {
                        "mimeType": job.reference_mime or "image/png",
                        "data": base64.b64encode(job.reference_image).decode(),
                    }
                }
            )
        body: dict = {
            "contents": [{"parts": parts}],
            "generationConfig": {"responseModalities": ["IMAGE"]},
        }
        if job.aspect_ratio:
            body["generationConfig"]["imageConfig"] = {"aspectRatio": job.aspect_ratio}
        # Synchronous: a lost answer cannot be looked up later, but nothing waits upstream either.
        resp = self.send(
            "POST",
            f"{self.root}/models/{job.model}:generateContent",
            create=True,
            json=body,
        )
        data = json_of(resp, create=True)
        for cand in data.get("candidates") or []:
            for part in ((cand or {}).get("content") or {}).get("parts") or []:
                inline = part.get("inlineData") or part.get("inline_data")
                if isinstance(inline, dict) and inline.get("data"):
                    try:
                        raw = base64.b64decode(inline["data"])
                    except ValueError:
                        continue
                    mime = inline.get("mimeType") or inline.get("mime_type") or "image/png"
                    return pb.Submitted(
                        external_id=str(data.get("responseId") or "gemini-" + uuid.uuid4().hex),
                        status=pb.UpstreamStatus(state=pb.COMPLETED, progress=100),
                        inline_results={"image": (raw, mime)},
                    )
        reason = (data.get("promptFeedback") or {}).get("blockReason") or next(
            (c.get("finishReason") for c in data.get("candidates") or [] if isinstance(c, dict)),
            None,
        )
        raise pb.PermanentError(
            f"The model returned no image ({str(reason).lower().replace('_', ' ')})."
            if reason
            else "The model returned no image."
        )

    # ---- poll -----------------------------------------------------------------------------

    def _parse_operation(self, data: dict) -> pb.UpstreamStatus:
        if not data.get("done"):
            meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
            progress = meta.get("progressPercent")
            return pb.UpstreamStatus(
                state=pb.IN_PROGRESS,
                progress=int(progress) if isinstance(progress, (int, float)) else None,
                raw_status="running",
            )
        error = data.get("error")
        if isinstance(error, dict) and error:
            return pb.UpstreamStatus(
                state=pb.FAILED,
                error_code=str(error.get("status") or error.get("code") or "failed")[:64],
                error_message=clean_message(
                    str(error.get("message") or ""), self.config.api_key, 200
                )
                or "Generation failed.",
                raw_status="error",
            )
        gvr = ((data.get("response") or {}).get("generateVideoResponse")) or {}
        video = _first_video(gvr)
        if video is not None:
            return pb.UpstreamStatus(
                state=pb.COMPLETED,
                progress=100,
                result_urls={"video": video["uri"]} if video.get("uri") else {},
                expires_at=utcnow() + RETENTION,
                raw_status="done",
            )
        reasons = gvr.get("raiMediaFilteredReasons") or []
        if gvr.get("raiMediaFilteredCount") or reasons:
            why = (
                clean_message(str(reasons[0]), self.config.api_key, limit=200)
                if reasons
                else "it was blocked by the safety filters"
            )
            return pb.UpstreamStatus(
                state=pb.FAILED,
                error_code="rai_media_filtered",
                error_message=f"Google's safety filters blocked this video: {why}",
                raw_status="filtered",
            )
        return pb.UpstreamStatus(
            state=pb.FAILED,
            error_code="no_output",
            error_message="The operation finished without a video.",
            raw_status="done",
        )

    def status(self, external_id: str, handles: dict) -> pb.UpstreamStatus:
        resp = self.send(
            "GET",
            f"{self.root}/{name_path(external_id)}",
        )
        return self._parse_operation(json_of(resp))

    def download(self, external_id: str, handles: dict, variant: str = "video") -> pb.Download:
        if variant != "video":
            raise pb.NotFound(f"The Gemini API has no {variant}.")
        data = json_of(self.send("GET", f"{self.root}/{name_path(external_id)}"))
        status = self._parse_operation(data)
        if status.state in (pb.QUEUED, pb.IN_PROGRESS):
            raise pb.NotFound("The video is not ready yet.")
        video = _first_video(((data.get("response") or {}).get("generateVideoResponse")) or {})
        if status.state != pb.COMPLETED or video is None:
            raise pb.ContentExpired("The Gemini API no longer has this video.")
        if video.get("encodedVideo"):  # inline bytes (google-genai reads them as video_bytes)
            try:
                raw = base64.b64decode(video["encodedVideo"], validate=True)
            except ValueError:
                raise pb.TransientError("The Gemini API sent unreadable video bytes.") from None
            mime = video.get("encoding") or video.get("mimeType") or "video/mp4"
            return pb.Download(chunks=iter([raw]), content_type=str(mime), length=len(raw))
        uri = video["uri"]
        try:
            resp = self.send("GET", uri, stream=True)
        except pb.NotFound as exc:
            raise pb.ContentExpired(
                "The Gemini API no longer has this video (kept for 2 days)."
            ) from exc
        return stream_download(resp, "video/mp4")

    def remix(self, external_id, handles, job):
        raise pb.PermanentError("The Gemini API cannot remix videos.")

    def cancel(self, external_id, handles):
        raise pb.PermanentError("The Gemini API cannot cancel a video.")

    def delete(self, external_id, handles):
        raise pb.PermanentError("The Gemini API cannot delete a video.")

    def list_jobs(self, since) -> list:
        return []  # the protocol cannot list jobs (no CAP_LIST)

    def check(self) -> pb.CheckResult:
        try:
            self.send(
                "GET",
                f"{self.root}/models",
                params={"pageSize": 1},
            ).close()
        except pb.AuthError:
            return pb.CheckResult(False, True, False, "Reachable, but Google refused the API key.")
        except pb.ProviderError as exc:
            return pb.CheckResult(False, False, None, exc.message)
        return pb.CheckResult(True, True, True, "Reachable and the API key was accepted.")


def _first_video(gvr: dict) -> dict | None:
    """The first generated sample with a video: a file ``uri`` or inline
    ``encodedVideo`` bytes (both are what google-genai's ``_Video_from_mldev`` reads)."""
    for sample in gvr.get("generatedSamples") or []:
        video = (sample or {}).get("video") if isinstance(sample, dict) else None
        if isinstance(video, dict) and (video.get("uri") or video.get("encodedVideo")):
            return video
    return None
