"""Checks on a create request that need no database: prompt, choices, reference image."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

MAX_PROMPT = 32000
IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.I | re.S)


class ValidationError(ValueError):
    """Field errors: ``{field: message}``; ``code`` is stable for the JSON APIs."""

    def __init__(self, errors: dict[str, str], code: str = "invalid_request"):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.code = code

    @property
    def message(self) -> str:
        return next(iter(self.errors.values()))

    @property
    def field(self) -> str:
        return next(iter(self.errors))

    def renamed(self, names: dict[str, str]) -> ValidationError:
        """The same errors under the names a given API's request used for the fields."""
        return ValidationError({names.get(k, k): v for k, v in self.errors.items()}, self.code)


class Findings:
    """Gathers the field errors of several checks, so a form shows them all in one
    round; the first check that failed gives the code (what the JSON APIs answer)."""

    def __init__(self):
        self.errors: dict[str, str] = {}
        self.code: str | None = None

    def add(self, errors: dict[str, str], code: str) -> None:
        for key, message in errors.items():
            self.errors.setdefault(key, message)
        self.code = self.code or code

    @contextmanager
    def check(self):
        """``with found.check(): ...`` records a ValidationError and carries on."""
        try:
            yield
        except ValidationError as exc:
            self.add(exc.errors, exc.code)

    def raise_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors, self.code or "invalid_request")


def comma_list(value: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (the admin form's and the CLI's lists)."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """NUL (PostgreSQL text cannot hold it) or a lone surrogate (not encodable as UTF-8)."""
    return bool(_UNSTORABLE.search(text))


def check_prompt(prompt: str | None, field: str = "prompt") -> str:
    prompt = (prompt or "").strip()
    if unstorable(prompt):
        raise ValidationError(
            {field: "The prompt contains characters Reelay cannot store (NUL or broken Unicode)."},
            "invalid_characters",
        )
    if not prompt:
        raise ValidationError({field: "Write a prompt."}, "prompt_required")
    if len(prompt) > MAX_PROMPT:
        raise ValidationError(
            {field: f"The prompt is {len(prompt):,} characters; the limit is {MAX_PROMPT:,}."},
            "prompt_too_long",
        )
    return prompt


def parse_int(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip().rstrip("s"))
    except ValueError:
        raise ValidationError(
            {field: "Enter a whole number of seconds."}, "invalid_seconds"
        ) from None


def decode_data_url(value: str, field: str = "referenceImage") -> bytes:
    """Accept a base64 data URL (the replaced backend's format) or bare base64."""
    match = _DATA_URL.match(value.strip())
    payload = match.group(2) if match else value.strip()
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            {field: "The reference image is not valid base64."}, "invalid_image"
        ) from None


MAX_IMAGE_PIXELS = 4096 * 4096


def check_image(data: bytes, max_bytes: int, field: str = "reference_image") -> tuple[bytes, str]:
    """Decode the image to prove it is a real PNG/JPEG/WebP; returns (bytes, mime)."""
    if not data:
        raise ValidationError({field: "The reference image is empty."}, "invalid_image")
    if len(data) > max_bytes:
        raise ValidationError(
            {field: f"The reference image is larger than {max_bytes // (1024 * 1024)} MB."},
            "image_too_large",
        )
    too_big = ValidationError(
        {field: "The reference image has too many pixels; the most Reelay accepts is 4096×4096."},
        "image_too_large",
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        with img:
            fmt = img.format
            # The header gives the size: refuse a decompression bomb before decoding it
            # (a 700 KB PNG can claim 13000x13000 pixels, ~700 MB once loaded).
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise ValidationError(
                    {
                        field: f"The reference image is {img.width}×{img.height} pixels; "
                        "the most Reelay accepts is 4096×4096."
                    },
                    "image_too_large",
                )
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except ValidationError:
        raise
    except Image.DecompressionBombError:
        raise too_big from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            {field: "The reference image must be a PNG, JPEG or WebP picture."}, "invalid_image"
        ) from None
    if fmt not in IMAGE_FORMATS:
        raise ValidationError(
            {field: "The reference image must be a PNG, JPEG or WebP picture."}, "invalid_image"
        )
    return data, IMAGE_FORMATS[fmt]
