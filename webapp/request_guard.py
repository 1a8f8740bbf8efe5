"""Input no database can store is refused at the door, with a clear 400.

NUL characters (PostgreSQL text cannot hold them) and lone surrogates (not encodable as
UTF-8) in the path, the query string or a JSON body are answered ``invalid_characters``
naming the field; form posts are checked by the forms themselves, next to the field.
JSON nested deeper than any request needs is refused before it can exhaust the stack.
"""

from __future__ import annotations

from flask import Flask, Request, request
from werkzeug.exceptions import BadRequest

from .domain.validation import unstorable

MAX_JSON_DEPTH = 32


class UnstorableInput(BadRequest):
    """Carries the name of the offending field for the API's error body."""

    def __init__(self, field: str):
        super().__init__(
            f"{field} contains characters Reelay cannot store (NUL or broken Unicode)."
        )
        self.field = field


def _depth(text: bytes) -> int:
    """Deepest [ / { nesting outside strings, without parsing (so without recursion)."""
    depth = best = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            best = max(best, depth)
            if best > MAX_JSON_DEPTH:
                return best
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return best


def find_unstorable(value, path: str = "body") -> str | None:
    """The path of the first string (or key) no database can store, else None."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if unstorable(item):
                return where
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and unstorable(key):
                    return where
                stack.append((sub, key if where == "body" else f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((sub, f"{where}[{i}]") for i, sub in enumerate(item))
    return None


class GuardedRequest(Request):
    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        if self.is_json or force:
            raw = self.get_data(cache=True)
            if _depth(raw) > MAX_JSON_DEPTH:
                if silent:
                    return None
                raise BadRequest(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
        try:
            data = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            raise BadRequest("The JSON body is nested too deeply.") from None
        field = find_unstorable(data)
        if field is not None:
            raise UnstorableInput(field)
        return data


def init_app(app: Flask) -> None:
    app.request_class = GuardedRequest

    @app.before_request
    def refuse_unstorable():
        if unstorable(request.path):
            raise UnstorableInput("path")
        for key, value in request.args.items(multi=True):
            if unstorable(key) or unstorable(value):
                raise UnstorableInput(key if not unstorable(key) else "query")
        return None
