"""Provider callbacks answered straight from WSGI, in front of Flask.

GET and POST to /webhooks/<vendor> and /webhooks/<vendor>/<token> are what every provider
calls, all day. Flask's own work for a request (its contexts, URL matching, hooks, a
Response object) is a quarter of the CPU a stored callback costs (bench/NOTES.md), and
does nothing here that the callback needs. So these
requests get a werkzeug Request (the same header access, body limit and 413 as under
Flask), `webhooks.answer()` (the same checks in the same order), the same error answers
(api/errors.py), and the same log line, counter and latency (`observability.http.record`).

Anything else, including other methods on these paths and paths that only look alike
(an empty segment, a third one), goes to Flask, whose route map answers it.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from switchboard.api import errors, webhooks
from switchboard.api.chunked import buffer_chunked
from switchboard.observability import http
from switchboard.store.db import DATABASE_ERRORS

PREFIX = "/webhooks/"


class CallbackApp:
    """A WSGI app: callbacks here, the rest to `app`'s own WSGI app."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.flask_wsgi_app = app.wsgi_app
        self.state = app.extensions["switchboard"]

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if (method != "POST" and method != "GET") \
                or not environ.get("PATH_INFO", "").startswith(PREFIX):
            return self.flask_wsgi_app(environ, start_response)
        req = Request(environ)
        # As Flask's routing decodes PATH_INFO, and its default converter takes a
        # non-empty segment without a slash.
        segments = req.path[len(PREFIX):].split("/")
        if len(segments) > 2 or not all(segments):
            return self.flask_wsgi_app(environ, start_response)
        req.max_content_length = self.app.config["MAX_CONTENT_LENGTH"]
        notes = http.Notes(environ.get("HTTP_X_REQUEST_ID"))
        try:
            buffer_chunked(environ, req.max_content_length)
            status, body = webhooks.answer(self.state, notes, req, segments[0],
                                           segments[1] if len(segments) == 2 else None)
        except HTTPException as exc:  # the body over the limit: 413
            status, body = errors.http_error(exc)
        except DATABASE_ERRORS as exc:
            status, body = errors.database_error(exc)
        except Exception as exc:  # noqa: BLE001 - answered as Flask's handler answers it
            status, body = errors.internal_error(exc)
        http.record(notes, method, req.path, status, True, lambda: body)
        data = self._json(body)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        if status == 405:  # where Flask's route puts it, so both answers are the same bytes
            headers.append(("Allow", webhooks.allowed_methods(segments[0])))
        headers.append(("X-Request-ID", notes.request_id))
        start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}",  # as werkzeug
                       headers)
        return [data]

    def _json(self, body: dict) -> bytes:
        """As flask.jsonify writes it: the app's JSON settings, compact unless debugging."""
        provider = self.app.json
        if (provider.compact is None and self.app.debug) or provider.compact is False:
            text = provider.dumps(body, indent=2)
        else:
            text = provider.dumps(body, separators=(",", ":"))
        return f"{text}\n".encode()


def install(app: Flask) -> None:
    app.wsgi_app = CallbackApp(app)
