"""Template filters and globals shared by every page."""

import uuid
from datetime import datetime

from flask import Flask, current_app

from ..domain import budgets, statuses


def init_app(app: Flask) -> None:
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(format_duration, "duration")
    app.add_template_global(lambda: uuid.uuid4().hex, "new_key")
    app.add_template_filter(lambda s: statuses.LABELS.get(s, s), "status_label")
    app.add_template_filter(format_money, "money")
    app.add_template_global(budgets.LABELS, "cap_labels")
    app.add_template_global(invalid, "invalid")


def invalid(field, attrs: dict | None = None) -> dict:
    """``attrs`` plus, if the form field has errors, the aria attributes that mark it
    invalid and point at them (``{{ f(**invalid(f, {'data-x': 1})) }}``)."""
    if not field.errors:
        return dict(attrs or {})
    return {**(attrs or {}), "aria-invalid": "true", "aria-describedby": f"{field.id}-error"}


def format_money(amount) -> str:
    """An amount in the site's currency (REELAY_CURRENCY)."""
    return budgets.money(float(amount or 0), current_app.config.get("CURRENCY", "USD"))


def format_datetime(value: datetime | None) -> str:
    """Timestamps are naive UTC in the database; say so on screen."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
