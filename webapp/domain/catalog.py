"""Model maps: what users pick (e.g. ``sora_video2-portrait``) and what the upstream gets.

A provider's ``model_map`` entry looks like::

    {"upstream": "sora-2", "media_type": "VIDEO", "size": "720x1280",
     "aspect_ratio": "9:16", "seconds": 10, "label": "Sora 2 · portrait",
     "sizes": [...], "seconds_options": [...], "requires_image": false,
     "image_input": true}

``image_input: false`` (set by syncing OpenRouter's model list) refuses a reference
image for that model even where the provider takes images for others.
"""

from __future__ import annotations

from dataclasses import dataclass

ASPECT_SIZES = {"16:9": "1280x720", "9:16": "720x1280", "1:1": "1024x1024"}
ASPECT_RATIOS = tuple(ASPECT_SIZES)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    upstream: str
    media_type: str
    label: str
    size: str | None
    aspect_ratio: str | None
    seconds: int | None
    sizes: tuple[str, ...]
    seconds_options: tuple[int, ...]
    requires_image: bool = False
    accepts_image: bool = True


def model_spec(name: str, entry: dict, sizes: list, seconds_options: list) -> ModelSpec:
    return ModelSpec(
        name=name,
        upstream=entry.get("upstream") or name,
        media_type=(entry.get("media_type") or "VIDEO").upper(),
        label=entry.get("label") or name,
        size=entry.get("size"),
        aspect_ratio=entry.get("aspect_ratio"),
        seconds=entry.get("seconds"),
        sizes=tuple(entry.get("sizes") or sizes or ()),
        seconds_options=tuple(
            int(s) for s in (entry.get("seconds_options") or seconds_options or ())
        ),
        requires_image=bool(entry.get("requires_image")),
        accepts_image=entry.get("image_input") is not False,
    )


def aspect_of(size: str) -> str | None:
    for ratio, default in ASPECT_SIZES.items():
        if default == size:
            return ratio
    try:
        w, h = (int(x) for x in size.lower().split("x"))
    except ValueError:
        return None
    if w == h:
        return "1:1"
    return "16:9" if w > h else "9:16"


def resolve_shape(
    spec: ModelSpec, size: str | None, aspect_ratio: str | None, seconds: int | None
) -> tuple[str | None, str | None, int | None]:
    """Fill size / aspect ratio / seconds the way the replaced backend did: size from the
    aspect ratio when not given (16:9 → 1280x720, 9:16 → 720x1280, 1:1 → 1024x1024
    where allowed, else the model's first size of that shape), else the model's
    defaults."""
    if not size and aspect_ratio:
        candidate = ASPECT_SIZES.get(aspect_ratio)
        if candidate and (not spec.sizes or candidate in spec.sizes):
            size = candidate
        else:  # the model's own sizes of that shape (if none, the caller says so)
            size = next((s for s in spec.sizes if aspect_of(s) == aspect_ratio), None)
    size = size or spec.size or (spec.sizes[0] if spec.sizes else None)
    aspect_ratio = aspect_ratio or spec.aspect_ratio or (aspect_of(size) if size else None)
    if spec.media_type == "IMAGE":
        seconds = None
    else:
        seconds = (
            seconds or spec.seconds or (spec.seconds_options[0] if spec.seconds_options else None)
        )
    return size, aspect_ratio, seconds
