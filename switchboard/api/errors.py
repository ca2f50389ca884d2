"""Every error answer is JSON: {"error": {"code", "message", "field"}}; `field` is null
when no one field is at fault, so clients read one shape."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from switchboard.store.db import DATABASE_ERRORS

log = logging.getLogger("switchboard.errors")

HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(status: int, code: str, message: str, field: str | None = None):
    return jsonify(error_body(code, message, field)), status


def http_error(exc: HTTPException) -> tuple[int, dict]:
    status = exc.code or 500
    code = HTTP_CODES.get(status, exc.name.lower().replace(" ", "_"))
    return status, error_body(code, exc.description or exc.name)


def database_error(exc: Exception) -> tuple[int, dict]:
    # The statement, its parameters and the driver's DETAIL lines may hold payload
    # data: log the error class and the driver's first line only.
    cause = getattr(exc, "orig", exc)
    first_line = (str(cause).strip().splitlines() or [""])[0][:200]
    log.error("database unavailable: %s: %s", type(cause).__name__, first_line)
    return 503, error_body("database_unavailable", "the database is unavailable; retry later")


def internal_error(_exc: Exception) -> tuple[int, dict]:
    """Call from the except block: the log line carries the traceback."""
    log.exception("unhandled error")
    return 503, error_body("internal_error",
                           "Switchboard failed to handle this request; retry later")


def init_app(app: Flask) -> None:
    def as_response(answer: tuple[int, dict]):
        status, body = answer
        return jsonify(body), status

    app.register_error_handler(HTTPException, lambda exc: as_response(http_error(exc)))
    # Flask dispatches on each class; the callback path (callback_wsgi) catches them itself.
    for error in DATABASE_ERRORS:
        app.register_error_handler(error, lambda exc: as_response(database_error(exc)))
    app.register_error_handler(Exception, lambda exc: as_response(internal_error(exc)))
