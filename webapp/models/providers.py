from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import utcnow


class Provider(db.Model):
    """An upstream configured by an admin. The API key is NOT stored: ``key_env`` names
    the environment variable that holds it."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # openai | fal | replicate | gemini
    base_url: Mapped[str] = mapped_column(String(500))
    path_prefix: Mapped[str] = mapped_column(String(100), default="/v1")
    auth_style: Mapped[str] = mapped_column(String(10), default="bearer")
    key_env: Mapped[str | None] = mapped_column(String(100))
    # {"sora_video2": {"upstream": "sora-2", "media_type": "VIDEO", "size": "1280x720",
    #   "aspect_ratio": "16:9", "seconds": 10, "label": "Sora 2"}, ...}
    model_map: Mapped[dict] = mapped_column(JSON, default=dict)
    sizes: Mapped[list] = mapped_column(JSON, default=list)
    seconds_options: Mapped[list] = mapped_column(JSON, default=list)
    extra_options: Mapped[list] = mapped_column(JSON, default=list)  # e.g. ["watermark", "hd"]
    settings: Mapped[dict] = mapped_column(JSON, default=dict)  # adapter extras
    price_per_second: Mapped[float] = mapped_column(Numeric(10, 4), default=0)
    max_rps: Mapped[float] = mapped_column(Float, default=10.0)
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower is tried first
    # Share of creates among providers of equal priority; 0: used only when others fail.
    weight: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Provider {self.id} {self.name} {self.kind}>"
