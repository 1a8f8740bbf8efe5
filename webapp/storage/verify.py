"""Prove a downloaded file is the media it claims to be before it counts as archived.

An upstream can answer 200 with an error page, a JSON body or a truncated file; a task
is only COMPLETED when its result opens: a video with a video stream and a duration
(PyAV), an image that decodes (Pillow). The content type stored is the one the file
proved to be, never the upstream's word.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

MIN_VIDEO_BYTES = 1024
MIN_IMAGE_BYTES = 64
MAX_IMAGE_PIXELS = 16384 * 16384

IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
# What an upstream may call a media file; anything else (JSON, HTML, text) is refused
# without a look inside.
GENERIC_TYPES = {"application/octet-stream", "binary/octet-stream", "application/binary", ""}


class InvalidMedia(ValueError):
    """The file is not a playable video / viewable image; ``str()`` says why, plainly."""


@dataclass(frozen=True)
class Media:
    content_type: str
    size: int
    duration: float | None = None
    width: int | None = None
    height: int | None = None

    def as_dict(self) -> dict:
        out = {"duration": self.duration, "width": self.width, "height": self.height}
        return {k: v for k, v in out.items() if v is not None}


def declared_ok(declared: str | None, family: str) -> bool:
    mime = (declared or "").split(";")[0].strip().lower()
    return mime in GENERIC_TYPES or (mime.startswith(family + "/") and mime != "image/svg+xml")


def check(path: str, size: int, family: str, declared: str | None = None) -> Media:
    """``family`` is "video" or "image"."""
    if not declared_ok(declared, family):
        raise InvalidMedia(f"the provider sent {declared.split(';')[0][:40]} instead of a {family}")
    if family == "video":
        return _video(path, size)
    return _image(path, size)


def _video(path: str, size: int) -> Media:
    if size < MIN_VIDEO_BYTES:
        raise InvalidMedia(f"the file is only {size} bytes, too small to be a video")
    import av

    try:
        with av.open(path) as container:
            streams = container.streams.video
            if not streams:
                raise InvalidMedia("the file has no video stream")
            stream = streams[0]
            duration = _duration(container, stream)
            if not duration or duration <= 0:
                raise InvalidMedia("the video has no duration")
            next(container.decode(stream), None) or _no_frames()
            fmt = (container.format.name or "").split(",")
            kind = "video/webm" if ("webm" in fmt or "matroska" in fmt) else "video/mp4"
            return Media(kind, size, round(duration, 3), stream.width, stream.height)
    except InvalidMedia:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds for a bad file
        raise InvalidMedia("the file does not open as a video") from exc


def _no_frames():
    raise InvalidMedia("the video has no frames")


def _duration(container, stream) -> float | None:
    if container.duration:
        return container.duration / 1_000_000
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _image(path: str, size: int) -> Media:
    if size < MIN_IMAGE_BYTES:
        raise InvalidMedia(f"the file is only {size} bytes, too small to be an image")
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt, width, height = img.format, img.width, img.height
                if width * height > MAX_IMAGE_PIXELS:
                    raise InvalidMedia("the image is too large to keep")
                img.verify()
            with Image.open(path) as img:
                img.load()
    except InvalidMedia:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a bad file
        raise InvalidMedia("the file does not open as an image") from exc
    if fmt not in IMAGE_TYPES:
        raise InvalidMedia("the file is not a PNG, JPEG, WebP or GIF image")
    return Media(IMAGE_TYPES[fmt], size, None, width, height)
