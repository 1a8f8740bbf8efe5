"""What the start-up banner says about this install (providers, the admin hint)."""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from . import catalog


def summary(app) -> list[str]:
    with app.app_context():
        lines = []
        offered = {o.provider.id for o in catalog.offers()}
        for p in catalog.all_providers():
            models = ", ".join(list(p.model_map or {})[:4])
            state = (
                "disabled"
                if not p.enabled
                else ("offered" if p.id in offered else f"not offered: ${p.key_env} is not set")
            )
            lines.append(f"provider: {p.name} ({p.kind}, {models}) - {state}")
        if not lines:
            lines.append("no provider yet: add one on Admin -> Providers")
        if not db.session.scalar(select(func.count()).select_from(User)):
            lines.append("no account yet: the first one you register becomes the admin")
        db.session.remove()
        db.engine.dispose()  # runs in gunicorn's master: no connection may cross the fork
        return lines
