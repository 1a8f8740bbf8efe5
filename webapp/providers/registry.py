"""Which adapter serves which kind of provider, with the defaults the admin form offers."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from . import base as pb
from .fal import FalQueue
from .gemini import GeminiAPI
from .openai_videos import OpenAIVideos
from .openrouter import OpenRouterVideos
from .replicate import ReplicatePredictions
from .vertex import VertexVeo


@dataclass(frozen=True)
class Kind:
    label: str
    adapter: type
    default_base_url: str
    default_prefix: str
    default_auth: str

    @property
    def capabilities(self) -> frozenset[str]:
        return self.adapter.capabilities


KINDS: dict[str, Kind] = {
    "openai": Kind(
        "OpenAI Videos API (gateways: new-api, LiteLLM, relays)", OpenAIVideos, "", "/v1", "bearer"
    ),
    "openrouter": Kind(
        "OpenRouter video API", OpenRouterVideos, "https://openrouter.ai", "/api/v1", "bearer"
    ),
    "fal": Kind("fal.ai queue", FalQueue, "https://queue.fal.run", "", "bearer"),
    "replicate": Kind(
        "Replicate predictions", ReplicatePredictions, "https://api.replicate.com", "/v1", "bearer"
    ),
    "vertex": Kind(
        "Veo on Vertex AI (service account)",
        VertexVeo,
        "https://us-central1-aiplatform.googleapis.com",
        "/v1",
        "bearer",
    ),
    "gemini": Kind(
        "Google Gemini API (Gemini image; Veo where still served)",
        GeminiAPI,
        "https://generativelanguage.googleapis.com",
        "/v1beta",
        "bearer",
    ),
}


def build(config: pb.ProviderConfig, session: requests.Session) -> pb.Provider:
    try:
        kind = KINDS[config.kind]
    except KeyError:
        raise pb.PermanentError(f"Unknown provider kind {config.kind!r}.") from None
    return kind.adapter(config, session)
