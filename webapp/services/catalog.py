"""Configured providers: what they offer, how to reach them, how admins change them.

The API key of a provider lives only in the environment variable named by
``Provider.key_env``; it is read at call time and never stored, rendered or logged.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from ..domain.catalog import ASPECT_RATIOS, ModelSpec, aspect_of, model_spec
from ..domain.validation import ValidationError, unstorable
from ..extensions import db
from ..models import Provider
from ..providers import addresses
from ..providers import base as pb
from ..providers.http import make_session
from ..providers.registry import KINDS, build
from . import throttle

EXTRA_OPTIONS = ("watermark", "hd", "private", "n")
# A provider may read only variables named like an upstream credential, and never one of
# the server's own secrets: an admin could otherwise send SECRET_KEY or the database
# password to a URL of their choosing with "Test connection".
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}_(KEY|TOKEN|CREDENTIALS|KEY_FILE)$")
_ENV_FORBIDDEN = ("SECRET_KEY", "FLASK_", "AWS_", "REELAY_ARCHIVE", "DATABASE", "PG", "TEST_")


def key_env_allowed(name: str | None) -> bool:
    return bool(name) and bool(_ENV_NAME.fullmatch(name)) and not name.startswith(_ENV_FORBIDDEN)


_session_lock = threading.Lock()
_session = None


def http_session():
    """One pooled session per process, shared by every adapter and thread."""
    global _session
    with _session_lock:
        if _session is None:
            _session = make_session(pool_size=64)
        return _session


@dataclass(frozen=True)
class Offer:
    provider: Provider
    spec: ModelSpec


def api_key(provider: Provider) -> str | None:
    return os.environ.get(provider.key_env) if key_env_allowed(provider.key_env) else None


def config_for(provider: Provider) -> pb.ProviderConfig:
    cfg = current_app.config
    return pb.ProviderConfig(
        kind=provider.kind,
        base_url=provider.base_url.rstrip("/"),
        path_prefix=provider.path_prefix or "",
        auth_style=provider.auth_style or "bearer",
        api_key=api_key(provider),
        connect_timeout=cfg["UPSTREAM_CONNECT_TIMEOUT"],
        read_timeout=cfg["UPSTREAM_READ_TIMEOUT"],
        extra=dict(provider.settings or {}),
        networks=cfg["UPSTREAM_NETWORKS"],
        pace=_pace(provider.id, provider.max_rps),
    )


def _pace(provider_id: int | None, max_rps) -> Callable[[], None]:
    """Every request to a provider's own host waits for the shared rate limit."""
    rate = float(max_rps or 10)
    return lambda: throttle.acquire(provider_id, rate)


def adapter_for(provider: Provider) -> pb.Provider:
    return build(config_for(provider), http_session())


def capabilities(provider: Provider) -> frozenset[str]:
    """What this provider can do: its kind's, narrowed by its settings (an OpenAI-Videos
    gateway's profile says whether it can list, delete, cancel)."""
    return adapter_for(provider).capabilities if provider.kind in KINDS else frozenset()


def own_aspects(offer: Offer) -> frozenset[str]:
    """The aspect ratios the offer's provider asks for by itself (Gemini's aspectRatio,
    fal's aspect_ratio…); none where the size alone sets the shape (OpenAI Videos)."""
    if offer.provider.kind not in KINDS:
        return frozenset()
    adapter = adapter_for(offer.provider)
    if pb.CAP_ASPECT not in adapter.capabilities:
        return frozenset()
    if offer.spec.media_type == "VIDEO":
        return adapter.video_aspect_ratios or frozenset(ASPECT_RATIOS)
    return frozenset(ASPECT_RATIOS)


def shapes(offer: Offer) -> tuple[str, ...]:
    """The aspect ratios a user may choose for this offer (the form offers only these;
    () when any): its provider's own, else the shapes of the model's sizes."""
    allowed = own_aspects(offer) or {aspect_of(s) for s in offer.spec.sizes}
    return tuple(a for a in ASPECT_RATIOS if a in allowed)


def specs(provider: Provider) -> list[ModelSpec]:
    return [
        model_spec(name, entry or {}, provider.sizes or [], provider.seconds_options or [])
        for name, entry in (provider.model_map or {}).items()
    ]


def enabled_providers() -> list[Provider]:
    return list(
        db.session.scalars(
            select(Provider)
            .where(Provider.enabled.is_(True))
            .order_by(Provider.priority, Provider.id)
        )
    )


def all_providers() -> list[Provider]:
    return list(db.session.scalars(select(Provider).order_by(Provider.priority, Provider.id)))


def key_missing(provider: Provider) -> bool:
    """Its key variable is named but not set here: nothing sent to it could succeed."""
    return bool(provider.key_env) and not api_key(provider)


def offers() -> list[Offer]:
    """Every (provider, model) a user may choose, best priority first; a provider whose
    key variable is unset is not offered."""
    return [Offer(p, s) for p in enabled_providers() if not key_missing(p) for s in specs(p)]


def parse_provider_id(value) -> int | None:
    """A provider id from untrusted input: a positive integer (or its digits) that fits
    the column; None for anything else (bools, floats, huge numbers, words)."""
    if isinstance(value, str) and value.isdigit() and len(value) < 11:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


def provider_by_id(value) -> Provider | None:
    pid = parse_provider_id(value)
    return db.session.get(Provider, pid) if pid is not None else None


def find_offers(model: str, provider_id: int | None = None) -> list[Offer]:
    """The offers that may serve a create of ``model`` (only ``provider_id``'s when the
    user pinned one), best priority first; refuses a model nobody offers."""
    found = [
        o
        for o in offers()
        if o.spec.name == model and (provider_id is None or o.provider.id == provider_id)
    ]
    if found:
        return found
    if provider_id is not None and provider_by_id(provider_id) is None:
        raise ValidationError({"provider": "That provider does not exist."}, "unknown_provider")
    keyless = [
        p
        for p in enabled_providers()
        if key_missing(p) and (provider_id is None or p.id == provider_id)
        if any(s.name == model for s in specs(p))
    ]
    if keyless:  # say why, rather than that nobody offers it
        raise ValidationError(
            {
                "model": f"The model “{model[:60]}” is offered only by a provider whose API "
                "key is not set on the server; an admin can set it."
            },
            "model_unavailable",
        )
    raise ValidationError(
        {"model": f"The model “{model[:60]}” is not offered by an enabled provider."},
        "unknown_model",
    )


# ---- admin: create / update / test ---------------------------------------------------


def _number(raw, default, lo, hi, kind):
    """A form's number within [lo, hi] (NaN and infinities are not), ``default`` when
    empty, None when it is no such number."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if lo <= value <= hi else None  # NaN compares false


def save_provider(
    data: dict, provider: Provider | None = None, extra_errors: dict | None = None
) -> Provider:
    """Validate and store a provider definition (admin page and CLI). ``extra_errors``
    (what the caller could not even parse) are reported together with these, so a form
    shows every problem in one round."""
    errors: dict[str, str] = {
        key: "This contains characters Reelay cannot store."
        for key, value in data.items()
        if isinstance(value, str) and unstorable(value)
    }
    if errors:
        raise ValidationError({**errors, **(extra_errors or {})}, "invalid_characters")
    name = (data.get("name") or "").strip()
    if not name or len(name) > 80:
        errors["name"] = "Give the provider a name (up to 80 characters)."
    elif db.session.scalar(
        select(Provider.id).where(
            Provider.name == name, Provider.id != (provider.id if provider else -1)
        )
    ):
        errors["name"] = "Another provider already has this name."
    kind = data.get("kind") or ""
    if kind not in KINDS:
        errors["kind"] = "Choose a provider kind."
    base_url = (data.get("base_url") or "").strip()
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors["base_url"] = "Enter an http(s) URL, e.g. https://gateway.example.com"
    else:
        try:
            addresses.check(base_url, current_app.config["UPSTREAM_NETWORKS"])
        except addresses.AddressRefused as exc:
            errors["base_url"] = (
                f"Reelay does not send requests there: {exc}. "
                "(REELAY_UPSTREAM_NETWORKS=private allows a gateway on your own network.)"
            )
    prefix = (data.get("path_prefix") or "").strip()
    if prefix and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
        errors["path_prefix"] = "Use a path like /v1 or /sora/v1 (or leave empty)."
    auth_style = data.get("auth_style") or "bearer"
    if auth_style not in ("bearer", "raw"):
        errors["auth_style"] = "Choose Bearer or raw key."
    key_env = (data.get("key_env") or "").strip() or None
    if key_env and not key_env_allowed(key_env):
        errors["key_env"] = (
            "Use an environment variable NAME ending in _KEY or _TOKEN, such as "
            "GATEWAY_API_KEY (not the key itself, and not one of Reelay's own settings)."
        )
    model_map = data.get("model_map")
    if not isinstance(model_map, dict) or not model_map:
        errors["model_map"] = (
            'Map at least one model, e.g. {"sora_video2": {"upstream": "sora-2"}}.'
        )
    else:
        for key, entry in model_map.items():
            if not isinstance(entry, dict) or not re.fullmatch(
                r"[A-Za-z0-9._:/-]{1,100}", str(key)
            ):
                errors["model_map"] = (
                    f'Model “{str(key)[:40]}” needs an object like {{"upstream": "sora-2"}}.'
                )
                break
    sizes = data.get("sizes") or []
    if not all(isinstance(s, str) and re.fullmatch(r"\d{2,5}x\d{2,5}", s) for s in sizes):
        errors["sizes"] = "Sizes look like 1280x720, separated by commas."
    seconds = data.get("seconds_options") or []
    if not all(isinstance(s, int) and 1 <= s <= 600 for s in seconds):
        errors["seconds_options"] = "Durations are whole seconds between 1 and 600."
    extra = [o for o in (data.get("extra_options") or []) if o in EXTRA_OPTIONS]
    price = _number(data.get("price_per_second"), 0.0, 0, 999_999, float)
    if price is None:
        errors["price_per_second"] = "Price per second is a number from 0 to 999,999."
    max_rps = _number(data.get("max_rps"), 10.0, 0.001, 10_000, float)
    if max_rps is None:
        errors["max_rps"] = "Requests per second is a number above 0, up to 10,000."
    priority = _number(data.get("priority"), 100, -1_000_000, 1_000_000, int)
    if priority is None:
        errors["priority"] = "Priority is a whole number (lower is tried first)."
    weight = _number(data.get("weight"), 1.0, 0, 1000, float)
    if weight is None:
        errors["weight"] = "Weight is a number from 0 (fallback only) to 1000."
    errors.update(extra_errors or {})
    if errors:
        raise ValidationError(errors, "invalid_provider")
    provider = provider or Provider()
    provider.name = name
    provider.kind = kind
    provider.base_url = base_url.rstrip("/")
    provider.path_prefix = prefix
    provider.auth_style = auth_style
    provider.key_env = key_env
    provider.model_map = model_map
    provider.sizes = sizes
    provider.seconds_options = seconds
    provider.extra_options = extra
    provider.settings = data.get("settings") or {}
    provider.price_per_second = price
    provider.max_rps = max_rps
    provider.priority = priority
    provider.weight = weight
    provider.enabled = bool(data.get("enabled", True))
    db.session.add(provider)
    db.session.commit()
    return provider


def set_enabled(provider_id: int, enabled: bool) -> Provider | None:
    provider = db.session.get(Provider, provider_id)
    if provider:
        provider.enabled = enabled
        db.session.commit()
    return provider


def test_connection(provider: Provider) -> pb.CheckResult:
    """Reachability and auth, without creating a job."""
    if provider.key_env and not api_key(provider):
        return pb.CheckResult(
            ok=False,
            reachable=False,
            authenticated=False,
            message=f"The environment variable {provider.key_env} is not set on this server.",
        )
    try:
        return adapter_for(provider).check()
    except pb.ProviderError as exc:
        return pb.CheckResult(ok=False, reachable=False, authenticated=None, message=exc.message)


def can_sync_models(provider: Provider) -> bool:
    return hasattr(KINDS[provider.kind].adapter, "models") if provider.kind in KINDS else False


def sync_models(provider: Provider) -> tuple[list[str], list[str]]:
    """Copy what the provider says each mapped model takes (durations, sizes, aspect
    ratios; OpenRouter's ``/videos/models``) into the model map, so the form offers
    only those and a create asking for anything else is refused before it is sent.
    Returns (the models updated, the upstream models offered but not mapped)."""
    listed = {m.id: m for m in adapter_for(provider).models()}
    updated = []
    model_map = {name: dict(entry or {}) for name, entry in (provider.model_map or {}).items()}
    for name, entry in model_map.items():
        info = listed.get(entry.get("upstream") or name)
        if info is None:
            continue
        if info.durations:
            entry["seconds_options"] = list(info.durations)
        if info.sizes:
            entry["sizes"] = list(info.sizes)
        if info.aspect_ratios:
            entry["aspect_ratios"] = list(info.aspect_ratios)
        entry["image_input"] = "first_frame" in info.frame_images
        updated.append(name)
    provider.model_map = model_map
    db.session.commit()
    mapped = {e.get("upstream") or n for n, e in model_map.items()}
    return updated, sorted(set(listed) - mapped)
