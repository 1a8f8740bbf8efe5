"""The content archive: finished results are copied here so they outlive upstream links.

``build_store(app.config)`` picks the backend; ``serve`` answers player requests with
Range support; ``serve_stream`` relays the upstream until the archive has a copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .base import ArchiveStore, StoredObject, validate_key
from .local import LocalStore
from .s3 import S3Store
from .serving import serve, serve_stream

__all__ = [
    "ArchiveStore",
    "LocalStore",
    "S3Store",
    "StoredObject",
    "build_store",
    "serve",
    "serve_stream",
    "validate_key",
]


def build_store(config: Mapping[str, Any]) -> ArchiveStore:
    """Build the configured store. S3 credentials are deliberately not read from config:
    boto3 finds them in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or its other sources)."""
    backend = (config.get("ARCHIVE_BACKEND") or "local").strip().lower()
    if backend == "local":
        root = config.get("ARCHIVE_DIR") or os.path.join("instance", "archive")
        return LocalStore(root)
    if backend == "s3":
        prefix = config.get("S3_PREFIX")
        return S3Store(
            config.get("S3_BUCKET") or "",
            "reelay/" if prefix is None else prefix,
            endpoint_url=config.get("S3_ENDPOINT_URL") or None,
            region=config.get("S3_REGION") or None,
        )
    raise ValueError(f"ARCHIVE_BACKEND must be 'local' or 's3', not {backend!r}")
