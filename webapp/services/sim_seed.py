"""The built-in simulator as a fresh install's default providers, one per protocol the
simulator speaks, each shaped like the real service (durations, sizes, profiles).

``make run`` calls ``seed`` on every start; it only adds what is missing and follows a
changed simulator port. The Vertex provider needs a service-account key file: in
development one is made under ``instance/`` (a throwaway RSA key the simulator's token
endpoint accepts), and ``REELAY_SIM_VERTEX_CREDENTIALS`` names it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import select

from ..extensions import db
from ..models import Provider
from . import catalog

VERTEX_ENV = "REELAY_SIM_VERTEX_CREDENTIALS"
SORA_SIZES = ["720x1280", "1280x720", "1024x1792", "1792x1024"]  # openai SDK VideoSize


def _sora(seconds: int) -> dict:
    return {
        "sora_video2": {
            "upstream": "sora-2",
            "label": "Sora 2 · standard (16:9)",
            "size": "1280x720",
            "aspect_ratio": "16:9",
            "seconds": seconds,
        },
        "sora_video2-landscape": {
            "upstream": "sora-2",
            "label": "Sora 2 · landscape",
            "size": "1280x720",
            "aspect_ratio": "16:9",
            "seconds": seconds,
        },
        "sora_video2-portrait": {
            "upstream": "sora-2",
            "label": "Sora 2 · portrait",
            "size": "720x1280",
            "aspect_ratio": "9:16",
            "seconds": seconds,
        },
    }


def providers(url: str) -> list[dict]:
    url = url.rstrip("/")
    common = {"base_url": url, "auth_style": "bearer", "key_env": "REELAY_SIM_KEY", "max_rps": 50}
    return [
        {
            **common,
            "name": "Simulator (OpenAI Videos)",
            "kind": "openai",
            "path_prefix": "/v1",
            "model_map": _sora(8),
            "sizes": SORA_SIZES,
            "seconds_options": [4, 8, 12],
            "settings": {"simulator": True, "profile": "openai"},
            "price_per_second": 0.10,
            "priority": 10,
        },
        {
            **common,
            "name": "Simulator (Sora relay)",
            "kind": "openai",
            "path_prefix": "/sora/v1",
            "auth_style": "raw",
            "model_map": _sora(10),  # the replaced backend's default duration
            "sizes": ["1280x720", "720x1280"],
            "seconds_options": [10, 15],
            "extra_options": ["watermark", "hd", "private"],
            "settings": {"simulator": True, "profile": "relay", "pass_options": True},
            "price_per_second": 0.08,
            "priority": 20,
        },
        {
            **common,
            "name": "Simulator (Veo on Vertex AI)",
            "kind": "vertex",
            "path_prefix": "/v1",
            "key_env": VERTEX_ENV,
            "model_map": {
                "veo-3.1": {
                    "upstream": "veo-3.1-generate-001",
                    "label": "Veo 3.1",
                    "size": "1280x720",
                    "aspect_ratio": "16:9",
                    "seconds": 8,
                }
            },
            "sizes": ["1280x720", "720x1280"],
            "seconds_options": [4, 6, 8],
            "settings": {
                "simulator": True,
                "project": "reelay-sim",
                "location": "us-central1",
                "storage_url": url,
            },
            "price_per_second": 0.15,
            "priority": 30,
        },
        {
            **common,
            "name": "Simulator (OpenRouter)",
            "kind": "openrouter",
            "path_prefix": "/api/v1",
            "model_map": {
                "openrouter/veo-3.1": {
                    "upstream": "google/veo-3.1",
                    "label": "Veo 3.1 via OpenRouter",
                    "size": "1280x720",
                    "aspect_ratio": "16:9",
                    "seconds": 8,
                }
            },
            "sizes": ["1280x720", "720x1280", "1920x1080", "1080x1920"],
            "seconds_options": [4, 6, 8],
            "settings": {"simulator": True},
            "price_per_second": 0.10,
            "priority": 40,
        },
        {
            **common,
            "name": "Simulator (Gemini)",
            "kind": "gemini",
            "path_prefix": "/v1",
            "model_map": {
                "gemini-2.5-flash-imagen": {
                    "upstream": "gemini-3.1-flash-image",
                    "label": "Gemini image",
                    "media_type": "IMAGE",
                    "size": "1024x1024",
                    "aspect_ratio": "1:1",
                },
                "gemini-2.5-flash-imagen-edit": {
                    "upstream": "gemini-3.1-flash-image",
                    "label": "Gemini image edit (needs a reference image)",
                    "media_type": "IMAGE",
                    "size": "1024x1024",
                    "aspect_ratio": "1:1",
                    "requires_image": True,
                },
            },
            "sizes": ["1024x1024"],
            "seconds_options": [],
            "settings": {"simulator": True},
            "price_per_second": 0.04,
            "priority": 50,
        },
    ]


def seed(url: str) -> list[Provider]:
    """Add the simulator's providers that are missing (only on an install whose
    providers are all simulated), and point the existing ones at ``url``."""
    ensure_vertex_key(url)
    rows = catalog.all_providers()
    if any(not (r.settings or {}).get("simulator") for r in rows):
        return rows  # someone configured real providers: leave them alone
    by_name = {r.name: r for r in rows}
    for definition in providers(url):
        row = by_name.get(definition["name"])
        if row is None:
            catalog.save_provider(definition)
        else:
            row.base_url = url.rstrip("/")
            if "storage_url" in (row.settings or {}):
                row.settings = {**row.settings, "storage_url": url.rstrip("/")}
    db.session.commit()
    return list(db.session.scalars(select(Provider).order_by(Provider.priority, Provider.id)))


def ensure_vertex_key(url: str) -> str | None:
    """Write the simulator's throwaway service-account key file where its variable says
    (keeping an existing key, pointing its token URL at this simulator). Development
    only: real keys come from Google."""
    path = os.environ.get(VERTEX_ENV)
    if not path:
        return None
    token_uri = f"{url.rstrip('/')}/token"
    if os.path.exists(path):
        data = json.loads(Path(path).read_text())
        if data.get("token_uri") == token_uri:
            return path
        data["token_uri"] = token_uri
    else:
        data = {
            "type": "service_account",
            "project_id": "reelay-sim",
            "private_key_id": "sim",
            "private_key": _new_private_key(),
            "client_email": "reelay@reelay-sim.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": token_uri,
        }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data))
    os.chmod(path, 0o600)
    return path


def _new_private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
