"""Full page or fragment: one rule for every view."""

from flask import make_response, render_template, request


def is_htmx() -> bool:
    """A fragment is wanted for htmx requests, but never for a history restore,
    which needs the whole page (htmx 2 and 4 alike)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(full_template: str, fragment_template: str, **context):
    """Render the fragment for htmx requests and the full page (which includes it)
    otherwise, with ``Vary: HX-Request`` so caches keep them apart."""
    resp = make_response(
        render_template(fragment_template if is_htmx() else full_template, **context)
    )
    resp.vary.add("HX-Request")
    return resp
