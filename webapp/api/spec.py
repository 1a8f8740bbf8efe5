"""The API's declaration: spectree validates each request against its pydantic model and
generates ``/api/openapi.json`` from the same models.

spectree rather than flask-openapi3: it decorates plain Flask views (flask-openapi3 wants
its own app and blueprint classes), so the routes, the limiter and the token check stay
as they are. A request that does not fit its model becomes a ``ValidationError`` with
the field named as the request spelled it and a stable code, rendered in each API's own
error shape by that API's error handler.
"""

from __future__ import annotations

from flask import Flask
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData

from ..domain.validation import ValidationError

BEARER = {"bearer": []}


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    return parts[0] if parts else "body"


def _as_validation_error(err) -> ValidationError:
    """pydantic's errors → ours: the first problem of each field, with a stable code."""
    errors: dict[str, str] = {}
    code = None
    for e in err.errors():
        field = _field(tuple(e.get("loc") or ()))
        kind = e.get("type", "")
        if field == "body" or kind in ("model_type", "dict_type", "model_attributes_type"):
            return ValidationError({"body": "Send a JSON object."}, "invalid_json")
        if field in errors:
            continue
        if kind == "missing":
            errors[field] = f"{field} is required."
            code = code or f"{field}_required"
        elif kind == "string_too_long":
            limit = (e.get("ctx") or {}).get("max_length")
            errors[field] = f"{field} is too long (at most {limit:,} characters)."
            code = code or f"{field}_too_long"
        else:
            expected = {
                "string_type": "a string",
                "int_type": "a whole number",
                "bool_type": "true or false",
            }
            errors[field] = f"{field} must be {expected.get(kind, 'of another type')}."
            code = code or "invalid_type"
    return ValidationError(
        errors or {"body": "The request is not valid."}, code or "invalid_request"
    )


FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def body():
    """The request body as its route's model parsed it (JSON or form, whichever the
    route takes); a body of another kind is ``invalid_json``."""
    from flask import request

    ctx = getattr(request, "context", None)
    data = (ctx.json or ctx.form) if ctx is not None else None
    if data is None:
        raise ValidationError(
            {"body": "Send a JSON object with Content-Type: application/json."}, "invalid_json"
        )
    return data


def _before(req, resp, req_validation_error, instance, model_adapter=None):
    """A body that is neither JSON nor a form, or JSON that does not parse, is
    ``invalid_json`` (spectree would read it as an empty object)."""
    has_body = req.method in ("POST", "PUT", "PATCH") and req.content_length
    if (
        has_body
        and req.mimetype not in FORMS
        and (not req.is_json or req.get_json(silent=True) is None)
    ):
        raise ValidationError(
            {"body": "Send a JSON object with Content-Type: application/json."}, "invalid_json"
        )
    if req_validation_error is not None:
        raise _as_validation_error(req_validation_error)


spec = SpecTree(
    "flask",
    title="Reelay",
    version="1.0",
    description=(
        "Reelay's JSON API: the replaced backend's routes (/api, /v1/videos/query) and the "
        "OpenAI Videos API (/v1/videos). Authenticate with `Authorization: Bearer <token>`."
    ),
    path="_spec",  # spectree leaves routes under this path out of the document
    filename="openapi.json",
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda parent, child: child,
    page_templates={},  # the document only; no UI pulled from a CDN
    mode="strict",
    annotations=False,
    before=_before,
    validation_error_status=400,
    security_schemes=[
        SecurityScheme(
            name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer")
        ),
    ],
)


# The one route that answers a file rather than JSON (streamed, so spectree cannot wrap it).
CONTENT_ROUTE = {
    "/v1/videos/{video_id}/content": {
        "get": {
            "summary": "Download a video, its thumbnail or its sprite sheet",
            "tags": ["OpenAI Videos API"],
            "security": [BEARER],
            "parameters": [
                {"name": "video_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "variant",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["video", "thumbnail", "spritesheet"]},
                },
            ],
            "responses": {
                "200": {
                    "description": "The file",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "206": {
                    "description": "A byte range of the file",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **{
                    str(code): {
                        "description": "Error",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/OpenAIError"}
                            }
                        },
                    }
                    for code in (400, 401, 404, 409, 410, 416, 429, 502)
                },
            },
        }
    }
}


def document() -> dict:
    doc = dict(spec.spec)
    doc["paths"] = {**doc["paths"], **CONTENT_ROUTE}
    return doc


def register(app: Flask) -> None:
    spec.app = app  # the document is built from the current app's routes
    app.add_url_rule("/api/openapi.json", "openapi_json", lambda: app.json.response(document()))


__all__ = ["BEARER", "Response", "body", "register", "spec"]
