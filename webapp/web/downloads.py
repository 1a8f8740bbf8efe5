"""File answers the pages hand out (CSV exports)."""

from collections.abc import Iterable

from flask import Response, stream_with_context


def csv_download(body: str | Iterable[str], filename: str) -> Response:
    """A CSV attachment: a string, or lines streamed as they are made (within the
    request's context, so they may still read the database)."""
    if not isinstance(body, str):
        body = stream_with_context(body)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
