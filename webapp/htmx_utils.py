"""Full page or fragment: one rule for every view."""

from flask import render_template, request


def is_htmx() -> bool:
    """A fragment is wanted for htmx requests, but never for a history restore,
    which needs the whole page (htmx 2 and 4 alike)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(page: str, fragment: str, **context):
    """Render ``fragment`` for htmx requests and ``page`` (which includes it) otherwise."""
    return render_template(fragment if is_htmx() else page, **context)
