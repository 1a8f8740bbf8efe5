"""Veo on Vertex AI: ``predictLongRunning`` to start, ``fetchPredictOperation`` to poll.

Since google-genai 3.x creates Veo videos only in Vertex mode, this is the Veo adapter
(the Gemini API adapter keeps Gemini image models). It authenticates with a Google
service account through ``google-auth``: the provider's key variable names an
environment variable holding the *path* of the key file, which is read at call time and
never stored. The OAuth token request goes through the same request path as every
other upstream call (address policy, no redirects with credentials).

Results come back as ``gcsUri`` (when ``settings.storage_uri`` sets an output bucket) and
are downloaded through the Cloud Storage JSON API, or as base64 bytes in the operation.
"""

from __future__ import annotations

import base64
import os
import threading
from urllib.parse import quote

from google.auth.transport import Request as AuthRequest
from google.auth.transport import Response as AuthResponse
from google.oauth2 import service_account

from . import base as pb
from .gemini import RESOLUTION
from .http import HttpAdapter, clean_message, json_of, name_path, stream_download

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
STORAGE = "https://storage.googleapis.com"
_credentials: dict[tuple, service_account.Credentials] = {}
_lock = threading.Lock()


class _Transport(AuthRequest):
    """google-auth's token call, sent through the adapter's one request path."""

    def __init__(self, adapter: VertexVeo):
        self.adapter = adapter

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        resp = self.adapter.send(
            method, url, headers=headers or {}, data=body, allow=tuple(range(400, 600)), auth=False
        )
        try:
            return _Reply(resp.status_code, dict(resp.headers), resp.content)
        finally:
            resp.close()


class _Reply(AuthResponse):
    def __init__(self, status, headers, data):
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self):
        return self._status

    @property
    def headers(self):
        return self._headers

    @property
    def data(self):
        return self._data


class VertexVeo(HttpAdapter):
    capabilities = frozenset({pb.CAP_IMAGE_INPUT, pb.CAP_ASPECT})
    video_aspect_ratios = pb.VEO_ASPECTS
    default_prefix = "/v1"
    own_hosts = ("storage.googleapis.com",)  # the same Google token reads the output bucket

    def __init__(self, config, session):
        super().__init__(config, session)
        extra = config.extra
        self.project = str(extra.get("project") or "")
        self.location = str(extra.get("location") or "us-central1")
        self.storage = str(extra.get("storage_url") or STORAGE).rstrip("/")
        if extra.get("storage_url"):
            self.own_hosts = (*self.own_hosts, self.storage.split("://", 1)[-1].split("/")[0])

    # ---- credentials --------------------------------------------------------------------

    def _key_file(self) -> str:
        path = self.config.api_key  # the value of the key variable: a file path
        if not path or not os.path.isfile(path):
            raise pb.AuthError(
                "The service-account key file is missing; an admin needs to check the provider settings."
            )
        return path

    def _token(self) -> str:
        path = self._key_file()
        key = (path, os.path.getmtime(path))
        with _lock:
            creds = _credentials.get(key)
            if creds is None:
                try:
                    creds = service_account.Credentials.from_service_account_file(
                        path, scopes=SCOPES
                    )
                except (ValueError, KeyError, OSError):
                    raise pb.AuthError("The service-account key file could not be read.") from None
                _credentials[key] = creds
            if not creds.valid:
                try:
                    creds.refresh(_Transport(self))
                except Exception as exc:  # google.auth.exceptions.RefreshError and friends
                    raise pb.AuthError("Google refused the service account's credentials.") from exc
            return creds.token

    def _credentials(self) -> dict:
        return {"Authorization": f"Bearer {self._token()}"}

    # ---- protocol -----------------------------------------------------------------------

    def _model_url(self, model: str) -> str:
        model = model.split("/")[-1]
        return (
            f"{self.root}/projects/{quote(self.project, safe='')}/locations/"
            f"{quote(self.location, safe='')}/publishers/google/models/{quote(model, safe='')}"
        )

    def submit(self, job: pb.Job) -> pb.Submitted:
        instance: dict = {"prompt": job.prompt}
        if job.reference_image:
            instance["image"] = {
                "bytesBase64Encoded": base64.b64encode(job.reference_image).decode(),
                "mimeType": job.reference_mime or "image/png",
            }
        params: dict = {"sampleCount": 1}
        if job.seconds:
            params["durationSeconds"] = int(job.seconds)
        if job.aspect_ratio in ("16:9", "9:16"):
            params["aspectRatio"] = job.aspect_ratio
        if job.size in RESOLUTION:
            params["resolution"] = RESOLUTION[job.size]
        if self.config.extra.get("storage_uri"):
            params["storageUri"] = str(self.config.extra["storage_uri"])
        if "generate_audio" in self.config.extra:
            params["generateAudio"] = bool(self.config.extra["generate_audio"])
        resp = self.send(
            "POST",
            f"{self._model_url(job.model)}:predictLongRunning",
            create=True,
            json={"instances": [instance], "parameters": params},
        )
        data = json_of(resp, create=True)
        name = data.get("name")
        if not isinstance(name, str) or "/operations/" not in name:
            raise pb.AmbiguousError("Vertex AI accepted the request but sent no operation name.")
        return pb.Submitted(external_id=name, status=pb.UpstreamStatus(state=pb.QUEUED))

    def _operation(self, external_id: str) -> dict:
        model_path = name_path(external_id.rsplit("/operations/", 1)[0])
        resp = self.send(
            "POST",
            f"{self.root}/{model_path}:fetchPredictOperation",
            json={"operationName": external_id},
        )
        return json_of(resp)

    def status(self, external_id: str, handles: dict) -> pb.UpstreamStatus:
        return parse_operation(self._operation(external_id), self.config.api_key)

    def download(self, external_id: str, handles: dict, variant: str = "video") -> pb.Download:
        if variant != "video":
            raise pb.NotFound(f"Vertex AI has no {variant}.")
        data = self._operation(external_id)
        video = first_video(data)
        if video is None:
            raise pb.ContentExpired("Vertex AI returned no video for this job.")
        if video.get("bytesBase64Encoded"):
            raw = base64.b64decode(video["bytesBase64Encoded"])
            return pb.Download(
                chunks=iter([raw]),
                content_type=video.get("mimeType") or "video/mp4",
                length=len(raw),
            )
        bucket, _, obj = str(video.get("gcsUri") or "")[5:].partition("/")
        url = f"{self.storage}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(obj, safe='')}"
        try:
            resp = self.send("GET", url, stream=True, params={"alt": "media"})
        except pb.NotFound as exc:
            raise pb.ContentExpired("The video is no longer in the output bucket.") from exc
        return stream_download(resp, video.get("mimeType") or "video/mp4")

    def remix(self, external_id, handles, job):
        raise pb.PermanentError("Vertex AI cannot remix videos.")

    def cancel(self, external_id, handles):
        raise pb.PermanentError("Vertex AI Veo operations cannot be cancelled.")

    def delete(self, external_id, handles):
        raise pb.PermanentError("Vertex AI Veo operations cannot be deleted.")

    def list_jobs(self, since) -> list:
        return []  # the protocol cannot list jobs (no CAP_LIST)

    def check(self) -> pb.CheckResult:
        try:
            self._token()
        except pb.AuthError as exc:
            return pb.CheckResult(False, True, False, exc.message)
        except pb.ProviderError as exc:
            return pb.CheckResult(False, False, None, exc.message)
        return pb.CheckResult(True, True, True, "Google issued a token for the service account.")


def first_video(data: dict) -> dict | None:
    videos = ((data.get("response") or {}).get("videos")) or []
    return next(
        (
            v
            for v in videos
            if isinstance(v, dict) and (v.get("gcsUri") or v.get("bytesBase64Encoded"))
        ),
        None,
    )


def parse_operation(data: dict, secret: str | None = None) -> pb.UpstreamStatus:
    if not data.get("done"):
        return pb.UpstreamStatus(state=pb.IN_PROGRESS, raw_status="running")
    error = data.get("error")
    if isinstance(error, dict) and error:
        message = clean_message(str(error.get("message") or ""), secret, 200)
        return pb.UpstreamStatus(
            state=pb.FAILED,
            error_code=f"vertex_{error.get('code')}"[:64],
            error_message=message or "Vertex AI could not generate this video.",
            raw_status="error",
        )
    if first_video(data) is not None:
        return pb.UpstreamStatus(
            state=pb.COMPLETED, progress=100, raw_status="done", expires_at=None
        )
    response = data.get("response") or {}
    if response.get("raiMediaFilteredCount") or response.get("raiMediaFilteredReasons"):
        reasons = response.get("raiMediaFilteredReasons") or []
        why = clean_message(str(reasons[0]), secret, 200) if reasons else "it was blocked"
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
    )
