"""Template filters and globals shared by every page."""

import math
import uuid
from datetime import datetime
from urllib.parse import quote, urlencode

from flask import Flask, current_app, g, request, url_for

from ..domain import budgets, statuses


def init_app(app: Flask) -> None:
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(format_duration, "duration")
    app.add_template_global(lambda: uuid.uuid4().hex, "new_key")
    app.add_template_filter(lambda s: statuses.LABELS.get(s, s), "status_label")
    app.add_template_filter(format_money, "money")
    app.add_template_global(budgets.LABELS, "cap_labels")
    app.add_template_global(invalid, "invalid")
    app.add_template_global(task_url, "task_url")
    app.add_template_global(fixed_url, "fixed_url")


_TASK_PAGES = {"show": "", "row": "/row", "content": "/content", "live": "/live"}


def task_url(video_id: str, page: str = "show", **args) -> str:
    """``url_for('tasks.<page>', video_id=...)`` for the per-row links of a list: the
    route is resolved once per request, the rows only join strings (a list page makes
    dozens of these)."""
    prefix = g.get("_task_url_prefix")
    if prefix is None:
        prefix = g._task_url_prefix = url_for("tasks.show", video_id="-")[:-1]
    url = prefix + quote(video_id, safe="") + _TASK_PAGES[page]
    query = {k: v for k, v in args.items() if v is not None}
    return f"{url}?{urlencode(query)}" if query else url


_FIXED: dict[tuple, str] = {}
_FIXED_MAX = 512  # mount points are few; a flood of odd SCRIPT_NAMEs cannot grow it


def fixed_url(endpoint: str, **values) -> str:
    """``url_for`` for the links every page repeats (static files, the navigation):
    relative, they depend only on the route and where the app is mounted, so each is
    built once per mount point instead of a dozen times per page."""
    key = (request.script_root, endpoint, *sorted(values.items()))
    url = _FIXED.get(key)
    if url is None:
        if len(_FIXED) >= _FIXED_MAX:
            _FIXED.clear()
        url = _FIXED[key] = url_for(endpoint, **values)
    return url


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
    seconds = math.floor(seconds + 0.5)  # halves up, as the ticking clock's Math.round
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
