"""A chunked request body, read whole and bounded before anything parses it.

werkzeug refuses a body over MAX_CONTENT_LENGTH from its Content-Length, but a chunked body
has none: werkzeug reads up to the limit and stops, so the rest would arrive cut and parse
as something else. And gunicorn raises its own ParseException for broken chunk framing,
which is the caller's fault, not ours. So a chunked body is read here first: past the limit
it is 413, broken framing is 400, and what follows sees the whole body.
"""

from __future__ import annotations

import io

from flask import Flask, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

_STEP = 64 * 1024


def buffer_chunked(environ: dict, limit: int) -> None:
    """Replace a chunked request's wsgi.input with its whole body, or raise 413 or 400.

    A request with a Content-Length, or none that a server says is terminated (a body-less
    GET), is left as it is."""
    if environ.get("CONTENT_LENGTH") or not environ.get("wsgi.input_terminated"):
        return
    stream = environ["wsgi.input"]
    body = bytearray()
    try:
        while chunk := stream.read(min(_STEP, limit + 1 - len(body))):
            body += chunk
            if len(body) > limit:
                raise RequestEntityTooLarge()
    except (ParseException, OSError, ValueError) as exc:
        raise BadRequest(f"the chunked request body is malformed ({type(exc).__name__})"
                         ) from None
    # Still marked terminated (with Transfer-Encoding: chunked werkzeug reads no
    # Content-Length and would otherwise see an empty body); the length is for anyone else.
    environ["wsgi.input"] = io.BytesIO(bytes(body))
    environ["CONTENT_LENGTH"] = str(len(body))


def init_app(app: Flask) -> None:
    """The same for every route served by Flask (the callback path calls buffer_chunked
    itself, in front of Flask)."""

    @app.before_request
    def _whole_body() -> None:
        buffer_chunked(request.environ, app.config["MAX_CONTENT_LENGTH"])
